"""Hostile and broken input: property-based tests of the scenario loader.

The contract: ``load_scenario`` either returns a Scenario or raises ScenarioError with a
one-line message naming a key path or a file (and line) - never any other exception; the
CLI exits 0 or 2 with a one-paragraph message and no traceback; YAML is loaded without
constructing objects; oversized and alias-bomb documents are refused in under 2 s with
under 200 MB of extra memory; nan and inf never get into a parameter.

Documents come from hypothesis: random structures; documents over the schema's real key
paths with hostile values; structural mutations of every shipped file under scenarios/
(deleted keys, wrong types, extreme and non-finite numbers, huge lists, deep nesting);
and text/byte mutations of them (tags, anchors, aliases, merge keys, encodings, junk).
Shipped files are globbed when the tests are collected, so new files are covered.

Figures: ``PEERSUPPORT_FUZZ_REPORT=file.jsonl`` appends the number of documents tried per
test (docs/reliability.md quotes them). ``-m slow`` runs the same properties with 10x
more examples.
"""

from __future__ import annotations

import collections
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import psutil
import pytest
import yaml
from annotated_types import Ge, Gt, Le, Lt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from sim.analyses.sa_runner import load_sensitivity
from sim.cli.main import main as cli_main
from sim.params.errors import ScenarioError
from sim.params.scenario import Scenario, load_scenario, parse_set, section_type

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("**/*.yaml"))
SWEEPS = sorted(SCENARIOS.glob("sweeps/**/*.yaml"))

TIME_LIMIT_S = 2.0  # the bound on refusing a hostile document (CPU seconds)
MEMORY_LIMIT_MB = 200.0  # extra resident memory allowed while refusing it

# Example counts are per test (see fuzz()); the default run stays well under a minute.
BASE = settings(deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
SLOW_FACTOR = 10

TRIED: collections.Counter[str] = collections.Counter()
"""Documents tried, per test and outcome (``<test>:ok`` / ``<test>:error``)."""


# --------------------------------------------------------------------------- schema


def schema_paths(model: type[BaseModel] = Scenario, prefix: tuple[str, ...] = ()
                 ) -> Iterator[tuple[tuple[str, ...], FieldInfo | None]]:
    """Every key path of the schema: sections (field None) and leaves (their FieldInfo)."""
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        sub = section_type(field.annotation)
        if sub is not None:
            yield path, None
            yield from schema_paths(sub, path)
        else:
            yield path, field


def bounds(field: FieldInfo) -> tuple[float | None, float | None, bool]:
    """(lower, upper, lower is exclusive) from the field's pydantic ge/gt/le metadata."""
    lo = hi = None
    exclusive = False
    for m in field.metadata:
        if isinstance(m, Ge):
            lo = m.ge
        elif isinstance(m, Gt):
            lo, exclusive = m.gt, True
        elif isinstance(m, Le):
            hi = m.le
        elif isinstance(m, Lt):
            hi = m.lt
    return lo, hi, exclusive


ALL_PATHS = [p for p, _ in schema_paths()]
LEAVES = [(p, f) for p, f in schema_paths() if f is not None]
SECTION_PATHS = {".".join(p) for p, f in schema_paths() if f is None}
NEEDED_BY_OTHERS = {"network.background.edge_list"}  # required by background.kind: edge_list
KEY_NAMES = sorted({p[-1] for p in ALL_PATHS} | {"extends"})
FLOAT_LEAVES = [".".join(p) for p, f in LEAVES if f.annotation is float]
REQUIRED: dict[tuple[str, ...], list[str]] = collections.defaultdict(list)
for _path, _field in LEAVES:
    if _field.is_required():
        REQUIRED[_path[:-1]].append(_path[-1])


# --------------------------------------------------------------------------- oracle


def check_error(exc: ScenarioError, *, label: str = "") -> None:
    """A ScenarioError must be one clear line naming a key path or a file."""
    text = str(exc)
    assert text.strip(), "empty error message"
    assert "\n" not in text and "\r" not in text, f"message is not one line: {text!r}"
    assert "Traceback" not in text, text
    assert exc.path or exc.file, f"error names neither a key path nor a file: {text!r}"
    if label and exc.file == label:
        assert exc.line is None or exc.line >= 1, f"bad line {exc.line}: {text}"


def outcome(path: Path, test: str) -> Scenario | ScenarioError:
    """Load ``path``; anything but a Scenario or a well-formed ScenarioError fails the test."""
    TRIED[test] += 1
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        check_error(exc, label=str(path))
        TRIED[test + ":error"] += 1
        return exc
    assert isinstance(scenario, Scenario)
    TRIED[test + ":ok"] += 1
    return scenario


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    target = os.environ.get("PEERSUPPORT_FUZZ_REPORT")
    if target and TRIED:
        with open(target, "a") as fh:
            fh.write(json.dumps({"file": "test_scenario_fuzzing", "pid": os.getpid(),
                                 "counts": dict(TRIED)}) + "\n")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of scenarios/ (so ``extends`` resolves) plus room for fuzzed files."""
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(SCENARIOS, root / "scenarios")
    return root


def copy_of(workdir: Path, src: Path) -> Path:
    return workdir / "scenarios" / src.relative_to(SCENARIOS)


# --------------------------------------------------------------------------- values

NON_FINITE = [math.nan, math.inf, -math.inf]
EXTREMES = [0, -0.0, 1, -1, 0.5, 1e308, -1e308, 5e-324, 1e-300, 2**31, 2**63, -(2**63),
            10**30, -(10**30)]
TRICKY_TEXT = ["nan", "NaN", ".nan", "inf", "-inf", ".inf", "1e999", "-1e999", "1_000", "0x1F",
               "0o17", "1e3", "12abc", "", " ", "~", "null", "yes", "no", "on", "off",
               "2001-12-14", "2001-12-14T21:59:43.10-05:00", "\u202e", "\U0001f600", "../..",
               "/dev/zero", "%s%s%n", "{{}}", "<<"]

scalars = st.one_of(
    st.sampled_from(NON_FINITE + EXTREMES),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # includes nan, inf, subnormals, -0.0
    st.text(max_size=20),
    st.sampled_from(TRICKY_TEXT),
)
keys = st.one_of(st.sampled_from(KEY_NAMES), st.text(max_size=12),
                 st.integers(-5, 5).map(str))
values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=6) | st.dictionaries(keys, kids, max_size=6),
    max_leaves=25,
)


def dump(doc: Any, draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
    """YAML text of ``doc`` in a random style (block, flow, unicode or escaped)."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=draw(st.booleans()),
                          default_flow_style=draw(st.sampled_from([None, False, True])),
                          width=draw(st.sampled_from([80, 10_000])))


def has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(has_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_non_finite(v) for v in value)
    return False


def nest(path: tuple[str, ...], value: Any, into: dict[str, Any]) -> bool:
    """Set ``into[path] = value`` creating mappings; False if a prefix is a value."""
    node = into
    for key in path[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            return False
    if isinstance(node.get(path[-1]), dict):
        return False  # keep leaves already set below this section
    node[path[-1]] = value
    return True


def related(error_path: str, set_path: str) -> bool:
    """The error concerns the key that was set, a key beside it, or its section."""
    if error_path == set_path or set_path.startswith(error_path + "."):
        return True
    if error_path.startswith((set_path + ".", set_path + "[")):  # a key inside it
        return True
    return error_path.rpartition(".")[0] == set_path.rpartition(".")[0]


def in_range(field: FieldInfo) -> st.SearchStrategy[Any]:
    """Values a leaf field allows on its own (bounds from its pydantic metadata)."""
    ann = field.annotation
    if get_origin(ann) is Literal:
        return st.sampled_from(get_args(ann))
    if ann is bool:
        return st.booleans()
    lo, hi, exclusive = bounds(field)
    if ann is int:
        return st.integers(min_value=None if lo is None else int(lo) + exclusive,
                           max_value=hi)
    if ann is float:
        return st.floats(min_value=lo, max_value=hi, exclude_min=exclusive and lo is not None,
                         allow_nan=False, allow_infinity=False)
    return st.just(field.default)


# --------------------------------------------------------------------------- strategies


@st.composite
def random_documents(draw: Any) -> str:
    """Random YAML structures (mostly mappings, sometimes a bare value)."""
    doc = draw(st.one_of(st.dictionaries(keys, values, max_size=8), values))
    return dump(doc, draw)


@st.composite
def schema_documents(draw: Any) -> tuple[str, list[str], bool, bool]:
    """Documents over the real key paths: hostile or in-range values at 1-6 paths.

    Returns (YAML text, the dotted paths set, whether a non-finite float was set,
    whether every value set was in range for its own field).
    """
    doc: dict[str, Any] = {}
    set_paths: list[str] = []
    all_in_range = True
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.integers(0, 3)) == 0:  # a section or leaf path, hostile value
            path = draw(st.sampled_from(ALL_PATHS))
            value = draw(values)
            hostile = True
        else:
            path, field = draw(st.sampled_from(LEAVES))
            hostile = draw(st.booleans())
            value = draw(values if hostile else in_range(field))
        if nest(path, value, doc):
            set_paths.append(".".join(path))
            all_in_range &= not hostile
    return dump(doc, draw), set_paths, has_non_finite(doc), all_in_range


def doc_paths(doc: Any, prefix: tuple[Any, ...] = (),
              seen: set[int] | None = None) -> list[tuple[Any, ...]]:
    """Key paths of ``doc``, below each shared list or mapping only once.

    ``huge`` repeats one object (YAML aliases when dumped): listing every copy's paths would
    grow as the product of the repeats (5,000 x 5,000 = 25 M paths, 3 GB, after two).
    """
    seen = set() if seen is None else seen
    if not isinstance(doc, dict | list) or id(doc) in seen:
        return []
    seen.add(id(doc))
    out = []
    for k, v in doc.items() if isinstance(doc, dict) else enumerate(doc):
        out.append((*prefix, k))
        out += doc_paths(v, (*prefix, k), seen)
    return out


def typo(draw: Any, key: str) -> str:
    if not key:
        return "x"
    i = draw(st.integers(0, len(key) - 1))
    kind = draw(st.sampled_from(["drop", "swap", "upper", "dup", "space"]))
    if kind == "drop":
        return key[:i] + key[i + 1:] or "x"
    if kind == "swap" and i + 1 < len(key):
        return key[:i] + key[i + 1] + key[i] + key[i + 2:]
    if kind == "upper":
        return key.upper()
    if kind == "space":
        return key + " "
    return key[:i] + key[i] + key[i:]


def mutate(draw: Any, doc: Any, ops: list[str], rounds: int) -> Any:
    """Apply ``rounds`` random structural mutations (from ``ops``) to a parsed document."""
    for _ in range(rounds):
        paths = doc_paths(doc)
        if not paths or not isinstance(doc, dict):
            return {"name": draw(values)}
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        op = draw(st.sampled_from(ops))
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(values)
        elif op == "extreme":
            parent[key] = draw(st.sampled_from(NON_FINITE + EXTREMES + TRICKY_TEXT))
        elif op == "typo" and isinstance(parent, dict):
            parent[typo(draw, str(key))] = parent.pop(key)
        elif op == "nest":
            inner = parent[key]
            for _ in range(draw(st.integers(1, 80))):
                inner = [inner] if draw(st.booleans()) else {str(key): inner}
            parent[key] = inner
        elif op == "huge":
            parent[key] = [parent[key]] * draw(st.integers(100, 5000))
        elif op == "add" and isinstance(parent, dict):
            parent[draw(keys)] = draw(values)
        elif op == "wrap_list":
            parent[key] = [parent[key]]
    return doc


@st.composite
def structural_mutations(draw: Any) -> tuple[Path, str, Path]:
    """A shipped file with 1-4 structural mutations; also which shipped file to load.

    The file loaded is the mutated one or any shipped file (which may ``extends`` the
    mutated one: errors in a parent must name the parent).
    """
    src = draw(st.sampled_from(SHIPPED))
    doc = yaml.safe_load(src.read_text(encoding="utf-8")) or {}
    doc = mutate(draw, doc, ["delete", "replace", "extreme", "typo", "nest", "huge", "add",
                             "wrap_list"], draw(st.integers(1, 4)))
    load = draw(st.sampled_from([src, *SHIPPED]))
    return src, dump(doc, draw), load


SNIPPETS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/apply:os.system\n  - touch {marker}",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/name:os.system", "!!python/module:os", "!!python/tuple [1, 2]",
    "!!python/object:sim.params.scenario.Population {size: 3}",
    "&anchor 5", "*anchor", "<<: *anchor", "<<: 3", "<<: [1, 2]", "<<: {size: 3}",
    "<<: [*anchor]", "&a [*a]", "&m {<<: *m}", "!!binary aGVsbG8=", "!!set {a, b}",
    "!!omap [{a: 1}]", "!custom x", "!!int abc", "!!float 1e999", "!!timestamp foo",
    "!!bool maybe", "!!str {a: 1}", "!!map [1]", "!!seq {a: 1}", "? [a, b]\n: 1",
    "%YAML 1.1\n---", "%TAG ! tag:evil.com,2000:\n---", "---", "...", "{", "[", "}", "]",
    "'", '"', '"\\ud800"', '"\\x00"', '"\\U0010ffff"', "\t", "\x00", "\x07", "\x1b[2J",
    "\ufeff", "\u202e", "\U0001f600", "|\n  block", ">-", "- - -", "a: b: c", ":", "? ",
    "&a &b x", "*undefined", ".nan", ".inf", "-.inf", "1e999", "-0.0", "1e308",
    "0x7fffffffffffffffffffff", "9" * 5000, "[" * 200 + "]" * 200, "{a: " * 60 + "}" * 60,
]
ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
             "utf-32", "latin-1", "cp1252", "shift_jis"]


@st.composite
def text_mutations(draw: Any) -> tuple[Path, bytes]:
    """A shipped file's text with snippets, junk and edits, in a random encoding."""
    src = draw(st.sampled_from(SHIPPED))
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True) or ["\n"]
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["value", "line", "inline", "delete", "dup", "indent",
                                   "unicode"]))
        snippet = draw(st.sampled_from(SNIPPETS))
        if op == "value" and ":" in lines[i]:
            head = lines[i].split(":", 1)[0]
            lines[i] = f"{head}: {snippet}\n"
        elif op == "line":
            lines.insert(i, snippet + "\n")
        elif op == "inline":
            j = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:j] + snippet + lines[i][j:]
        elif op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = draw(st.sampled_from([" ", "  ", "\t", ""])) + lines[i].lstrip()
        elif op == "unicode":
            lines.insert(i, f"description: {draw(st.text(max_size=20))}caf\u00e9\n")
    data = "".join(lines).encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    junk = draw(st.sampled_from(["none", "none", "insert", "truncate", "flip", "prefix"]))
    if junk == "insert":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    elif junk == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif junk == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    elif junk == "prefix":
        data = draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00",
                                     b"\x89PNG\r\n\x1a\n"])) + data
    return src, data


# --------------------------------------------------------------------------- properties


def fuzz(strategy: st.SearchStrategy[Any], examples: int
         ) -> Callable[[Callable[..., None]], tuple[Any, Any]]:
    """Turn a property into (default test, slow test), run ``examples`` and 10x times."""

    def wrap(body: Callable[..., None]) -> tuple[Any, Any]:
        fast = settings(BASE, max_examples=examples)(given(case=strategy)(body))
        slow = settings(BASE, max_examples=examples * SLOW_FACTOR)(given(case=strategy)(body))
        return fast, pytest.mark.slow(slow)

    return wrap


def _random_structures(workdir: Path, case: str) -> None:
    path = workdir / "random.yaml"
    path.write_text(case, encoding="utf-8")
    outcome(path, "random_structures")


test_random_structures, test_random_structures_slow = fuzz(random_documents(), 300)(
    _random_structures)


def _schema_documents(workdir: Path, case: tuple[str, list[str], bool, bool]) -> None:
    text, set_paths, non_finite, all_in_range = case
    path = workdir / "schema.yaml"
    path.write_text(text, encoding="utf-8")
    result = outcome(path, "schema_documents")
    if non_finite:
        assert isinstance(result, ScenarioError), f"nan/inf accepted at {set_paths}:\n{text}"
    if isinstance(result, ScenarioError) and result.path and result.file == str(path):
        assert any(related(result.path, p) for p in set_paths) or result.path == "extends", (
            f"error names {result.path}, but only {set_paths} were set: {result}")
        assert result.line is not None, f"error from the file without a line: {result}"
    if all_in_range and isinstance(result, ScenarioError):
        # In-range values may only break cross-field rules, reported on a section
        # (clinical floor < reference) or a distribution (min <= max, physical range),
        # or leave out what another key requires (a distribution's sd, an edge list file).
        assert (result.path in SECTION_PATHS | NEEDED_BY_OTHERS
                or "missing required key" in str(result)
                or "ties" in str(result)), \
            f"in-range values refused: {result}\n{text}"


test_schema_documents, test_schema_documents_slow = fuzz(schema_documents(), 300)(
    _schema_documents)


def _structural_mutations(workdir: Path, case: tuple[Path, str, Path]) -> None:
    src, text, load = case
    target = copy_of(workdir, src)
    original = target.read_bytes()
    try:
        target.write_text(text, encoding="utf-8")
        outcome(copy_of(workdir, load), "structural_mutations")
    finally:
        target.write_bytes(original)


test_structural_mutations, test_structural_mutations_slow = fuzz(
    structural_mutations(), 200)(_structural_mutations)


def _text_mutations(workdir: Path, case: tuple[Path, bytes]) -> None:
    src, data = case
    marker = workdir / "PWNED"
    data = data.replace(b"{marker}", str(marker).encode())
    path = copy_of(workdir, src).with_name("mutated_" + src.name)
    path.write_bytes(data)
    result = outcome(path, "text_mutations")
    assert not marker.exists(), "a YAML tag ran code while loading"
    if isinstance(result, Scenario):
        assert not has_non_finite(result.model_dump()), f"non-finite value accepted: {result}"


test_text_mutations, test_text_mutations_slow = fuzz(text_mutations(), 1000)(_text_mutations)


# --------------------------------------------------------------------------- sweep files

try:
    from sim.analyses.sweep import load_sweep
except ImportError:  # the sweep engine is built separately
    load_sweep = None


@st.composite
def sweep_mutations(draw: Any) -> tuple[Path, str]:
    src = draw(st.sampled_from(SWEEPS))
    doc = yaml.safe_load(src.read_text(encoding="utf-8")) or {}
    doc = mutate(draw, doc, ["delete", "replace", "extreme", "typo"], draw(st.integers(1, 3)))
    return src, dump(doc, draw)


def _sweep_mutations(workdir: Path, case: tuple[Path, str]) -> None:
    src, text = case
    path = copy_of(workdir, src).with_name("mutated_" + src.name)
    path.write_text(text, encoding="utf-8")
    TRIED["sweep_mutations"] += 1
    try:
        load_sweep(path)
    except ScenarioError as exc:
        check_error(exc, label=str(path))


_needs_sweeps = pytest.mark.skipif(load_sweep is None or not SWEEPS,
                                   reason="no sweep loader or no sweep files")
if SWEEPS:
    test_sweep_mutations, test_sweep_mutations_slow = (
        _needs_sweeps(t) for t in fuzz(sweep_mutations(), 60)(_sweep_mutations))


# --------------------------------------------------------------------------- explicit cases


@pytest.mark.parametrize("tag_doc", [
    "!!python/object/apply:os.system ['touch {marker}']\n",
    "population: !!python/object/apply:os.system ['touch {marker}']\n",
    "population: !!python/object/apply:os.system\n  args: ['touch {marker}']\n",
    "name: !!python/object/new:os.system ['touch {marker}']\n",
    "name: !!python/name:os.system\n",
    "name: !!python/module:os\n",
    "population: !!python/object:sim.params.scenario.Population {size: 3}\n",
    "population: !custom {size: 3}\n",
])
def test_object_tags_are_refused(tmp_path: Path, tag_doc: str) -> None:
    marker = tmp_path / "PWNED"
    path = tmp_path / "tag.yaml"
    path.write_text(tag_doc.replace("{marker}", str(marker)))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    check_error(info.value, label=str(path))
    assert "unsupported YAML tag" in str(info.value), str(info.value)
    assert not marker.exists(), "a YAML tag ran code"


def measure(call: Callable[[], Any]) -> tuple[float, float, BaseException | None]:
    """(CPU seconds, peak extra RSS in MB, exception) of ``call``.

    CPU time of the calling thread, not wall time: the bound is on the work of refusing a
    document, which a loaded machine (a parallel test run) must not make flaky. The peak is
    the kernel's high-water mark, reset first (Linux); elsewhere RSS sampled every 2 ms,
    which misses a peak inside one C call that holds the GIL (a repr of a huge list).
    """
    exact = _reset_peak_rss()
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    if not exact:
        sampler.start()
    start = time.thread_time()
    error: BaseException | None = None
    try:
        call()
    except BaseException as exc:  # returned to the test, which checks its type
        error = exc
    elapsed = time.thread_time() - start
    done.set()
    if exact:
        peak[0] = _peak_rss()
    else:
        sampler.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    return elapsed, (peak[0] - base) / 1e6, error


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS; False where unsupported.

    Unsupported also where the write is accepted but the peak stays above the current RSS.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return 0 < _peak_rss() < psutil.Process().memory_info().rss + 50_000_000


def _peak_rss() -> int:
    """This process's peak RSS in bytes since the last reset (0 if unknown)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def laughs(kind: str, levels: int = 9) -> str:
    """Billion laughs: ``levels`` levels of 10 aliases each (10**levels expansions)."""
    out = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]" if kind == "list"
           else "l0: &l0 {" + ", ".join(f"k{j}: lol" for j in range(10)) + "}"]
    for i in range(1, levels + 1):
        prev = f"*l{i - 1}"
        if kind == "list":
            body = "[" + ", ".join([prev] * 10) + "]"
        elif kind == "map":
            body = "{" + ", ".join(f"k{j}: {prev}" for j in range(10)) + "}"
        else:  # merge keys: each level merges the previous one and adds its own aliases
            body = "{<<: [" + prev + "], " + ", ".join(f"l{i}k{j}: {prev}" for j in range(10)) + "}"
        out.append(f"l{i}: &l{i} {body}")
    return "\n".join(out) + "\n"


HOSTILE_LARGE = {
    "alias_bomb_list": lambda: laughs("list"),
    "alias_bomb_map": lambda: laughs("map"),
    "alias_bomb_merge": lambda: laughs("merge"),
    "oversized_3MB": lambda: "description: '" + "x" * 3_000_000 + "'\n",
    "many_values_under_byte_limit": lambda: "description: [" + ",".join(["1"] * 950_000) + "]\n",
    "many_keys_under_byte_limit": lambda: "".join(f"k{i}: 1\n" for i in range(180_000)),
    "deep_flow_nesting": lambda: "a: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "deep_block_nesting": lambda: "".join("  " * i + f"k{i}:\n" for i in range(400)) + "\n",
    "long_scalar": lambda: "population:\n  size: " + "9" * 1_900_000 + "\n",
    # one long string repeated by aliases: 150 GB of text once expanded (the value preview
    # of its type error alone took 20 s and every byte of memory before the character limit)
    "alias_string_bomb": lambda: "name: &s '" + "x" * 1_000_000 + "'\ndescription: ["
                                 + ", ".join(["*s"] * 150_000) + "]\n",
    "alias_string_bomb_nested": lambda: "name: &s '" + "x" * 100_000 + "'\nl1: &l1 ["
                                        + ", ".join(["*s"] * 50) + "]\ndescription: ["
                                        + ", ".join(["*l1"] * 100) + "]\n",
    # YAML 1.1 base-60 integer: PyYAML's reading takes time quadratic in its length (88 s)
    "base60_integer": lambda: "population:\n  size: 1" + ":0" * 900_000 + "\n",
    # 99,000 unknown keys by aliases: each was described (did-you-mean) though four are shown
    "many_errors_by_aliases": lambda: "defs: &s {" + ", ".join(f"bogus_{m}: 0" for m in range(100))
                                      + "}\nprogram:\n  in_person:\n    schedules: ["
                                      + ", ".join(["*s"] * 990) + "]\n",
}


def test_a_long_key_is_refused_before_pydantic_copies_it(tmp_path: Path) -> None:
    """1,000 errors under a 300 kB key of a mapping of sections: 1.4 GB before the key limit.

    pydantic copies the key into the location of each error below it.
    """
    path = tmp_path / "sensitivity.yaml"
    path.write_text("name: &s '" + "k" * 300_000 + "'\nbase: x.yaml\nmethod: sobol\nseed: 1\n"
                    "settings: {n: 8}\ninputs:\n  ? *s\n  : {"
                    + ", ".join(f"b{j}: 0" for j in range(1000)) + "}\n")
    elapsed, extra_mb, error = measure(lambda: load_sensitivity(path))
    assert isinstance(error, ScenarioError), repr(error)
    assert "is over 256 characters" in str(error) and len(str(error)) < 300, str(error)
    assert elapsed < TIME_LIMIT_S and extra_mb < MEMORY_LIMIT_MB, (elapsed, extra_mb)


def test_an_extends_chain_shares_one_value_budget(tmp_path: Path) -> None:
    """20 files of 98,000 values each, 40 keys deep: each file alone is within the limits."""
    for i in range(20):
        lines = [] if i == 19 else [f"extends: f{i + 1}.yaml"]
        lines += ["population:"] + ["  " * (j + 1) + f"d{i}_{j}:" for j in range(40)]
        indent = "  " * 41
        lines += [indent + "w: &w {" + ", ".join(f"k{m}: 0" for m in range(100)) + "}",
                  indent + "l: [" + ", ".join(["*w"] * 980) + "]"]
        (tmp_path / f"f{i}.yaml").write_text("\n".join(lines) + "\n")
    elapsed, extra_mb, error = measure(lambda: load_scenario(tmp_path / "f0.yaml"))
    assert isinstance(error, ScenarioError), repr(error)
    assert "200,000 values across its 'extends' chain" in str(error), str(error)
    assert error.file == str(tmp_path / "f1.yaml"), str(error)
    assert elapsed < TIME_LIMIT_S and extra_mb < MEMORY_LIMIT_MB, (elapsed, extra_mb)


def test_string_aliases_just_under_the_limit_are_shown_in_bounded_memory(
        tmp_path: Path) -> None:
    """7 MB of aliased text (under the limit) in a type error: the preview stays short."""
    path = tmp_path / "aliases.yaml"
    path.write_text("name: &s '" + "x" * 100_000 + "'\ndescription: ["
                    + ", ".join(["*s"] * 70) + "]\n")
    elapsed, extra_mb, error = measure(lambda: load_scenario(path))
    assert isinstance(error, ScenarioError), repr(error)
    assert "description: input should be a valid string, got ['xxx" in str(error), str(error)
    assert len(str(error)) < 300, str(error)
    assert elapsed < TIME_LIMIT_S and extra_mb < MEMORY_LIMIT_MB, (elapsed, extra_mb)


def test_mutation_paths_list_a_repeated_object_once() -> None:
    """Two nested ``huge`` mutations: the generator itself once took 3 GB per 25 M paths."""
    doc = yaml.safe_load((SCENARIOS / "designs" / "hybrid_kickoff.yaml").read_text())
    doc["program"] = [doc["program"]] * 5000
    inner = doc["program"][0]
    inner["im"] = [inner["im"]] * 5000
    paths = doc_paths(doc)
    assert len(paths) < 20_000, len(paths)
    assert len(paths) == len(set(paths))
    assert ("program", 0, "im", 0) in paths and ("program", 1) in paths


@pytest.mark.parametrize("name", sorted(HOSTILE_LARGE))
def test_large_and_bomb_documents_refused_fast_in_bounded_memory(tmp_path: Path,
                                                                 name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(HOSTILE_LARGE[name]())
    TRIED["large_and_bombs"] += 1
    elapsed, extra_mb, error = measure(lambda: load_scenario(path))
    assert isinstance(error, ScenarioError), f"{name}: expected a ScenarioError, got {error!r}"
    check_error(error, label=str(path))
    assert elapsed < TIME_LIMIT_S, f"{name}: refused after {elapsed:.2f} CPU s"
    assert extra_mb < MEMORY_LIMIT_MB, f"{name}: used {extra_mb:.0f} MB more memory"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_device_is_refused_before_reading() -> None:
    elapsed, extra_mb, error = measure(lambda: load_scenario("/dev/zero"))
    assert isinstance(error, ScenarioError), repr(error)
    assert "a character device, not a regular file" in str(error), str(error)
    assert elapsed < TIME_LIMIT_S and extra_mb < MEMORY_LIMIT_MB, (elapsed, extra_mb)


@pytest.mark.parametrize("dotted", FLOAT_LEAVES)
@pytest.mark.parametrize("literal", [".nan", ".inf", "-.inf", "1e999", "NaN"])
def test_non_finite_floats_rejected_with_path_and_line(tmp_path: Path, dotted: str,
                                                       literal: str) -> None:
    parts = dotted.split(".")
    text = "".join("  " * i + f"{k}:\n" for i, k in enumerate(parts[:-1]))
    text += "  " * (len(parts) - 1) + f"{parts[-1]}: {literal}\n"
    for sibling in REQUIRED.get(tuple(parts[:-1]), ()):  # a distribution's mean, sd, ...
        if sibling != parts[-1]:
            text += "  " * (len(parts) - 1) + f"{sibling}: 1\n"
    path = tmp_path / "nonfinite.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    check_error(info.value, label=str(path))
    assert f"{dotted} must be a finite number" in str(info.value), str(info.value)
    assert info.value.line == len(parts), f"wrong line: {info.value}"


def test_non_finite_override_rejected() -> None:
    with pytest.raises(ScenarioError, match="population.female_share must be a finite number"):
        load_scenario({}, {"population.female_share": math.nan})


def test_negative_zero_is_zero(tmp_path: Path) -> None:
    path = tmp_path / "zero.yaml"
    path.write_text("population:\n  female_share: -0.0\nprogram:\n  champions_share: -0.0\n")
    sc = load_scenario(path)
    assert sc.population.female_share == 0.0 and sc.program.champions_share == 0.0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "latin-1"])
def test_non_utf8_files_refused_with_file_name(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "enc.yaml"
    path.write_bytes("name: caf\u00e9\npopulation:\n  size: 10\n".encode(encoding))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    check_error(info.value, label=str(path))
    assert info.value.file == str(path) and "UTF-8" in str(info.value), str(info.value)


def test_utf8_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes("name: caf\u00e9\npopulation:\n  size: 10\n".encode("utf-8-sig"))
    assert load_scenario(path).name == "caf\u00e9"


def test_merge_keys_follow_yaml_semantics(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text("run:\n  <<: [{days: 5, seed: 3}, {days: 9, record_every_days: 2}]\n"
                    "  seed: 4\n")
    run = load_scenario(path).run
    # own keys override merged ones; among merged mappings the earlier one wins
    assert (run.days, run.seed, run.record_every_days) == (5, 4, 2), run


@pytest.mark.parametrize("text, line", [
    ("run:\n  <<: 3\n", 2),
    ("run:\n  <<: [1]\n", 2),
    ("run: &r\n  <<: *r\n", 1),
    ("run:\n  days: 3\n  days: 4\n", 3),
])
def test_bad_merges_and_duplicates_name_the_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    check_error(info.value, label=str(path))
    assert info.value.line == line, str(info.value)


@pytest.mark.parametrize("text", [
    'name: "\\ud800"\n', "population:\n  size: !!int abc\n", "name: !!timestamp foo\n",
    "name: !!bool maybe\n", "population:\n  size: 1" + "0" * 5000 + "\n", "name: a\x00b\n",
    "population:\n  female_share: !!float abc\n", "a: &a [*a]\n", "a: &a {b: *a}\n",
])
def test_unreadable_values_are_scenario_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "value.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    check_error(info.value, label=str(path))
    assert info.value.line is not None, str(info.value)


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\xff\xfe" * 50,
                                     b"0," + b"9" * 200_000 + b"\n", b"a,b\n1\n"])
def test_broken_edge_lists_are_scenario_errors(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "edges.csv").write_bytes(content)
    path = tmp_path / "edges.yaml"
    path.write_text("population:\n  size: 10\nnetwork:\n  background:\n    kind: edge_list\n"
                    "    edge_list: edges.csv\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    check_error(info.value)


# --------------------------------------------------------------------------- the CLI


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run ``peersupport`` in-process; stdout is strict UTF-8 like a terminal's."""
    out_raw, err_raw = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_raw, encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(err_raw, encoding="utf-8", errors="backslashreplace")
    with redirect_stdout(out), redirect_stderr(err):
        try:
            status = cli_main(argv)
        except SystemExit as exc:  # argparse
            status = int(exc.code or 0)
        out.flush()
        err.flush()
    return status, out_raw.getvalue().decode(), err_raw.getvalue().decode()


def check_cli(status: int, stderr: str) -> None:
    assert status in (0, 2), f"exit status {status}: {stderr}"
    assert "Traceback" not in stderr, stderr
    if status == 2:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].strip(), f"not a one-paragraph message: {stderr!r}"


@st.composite
def any_document(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["random", "schema", "structural", "text"]))
    if kind == "random":
        return draw(random_documents()).encode()
    if kind == "schema":
        return draw(schema_documents())[0].encode()
    if kind == "structural":
        return draw(structural_mutations())[1].encode()
    return draw(text_mutations())[1]


def _cli_in_process(workdir: Path, case: bytes) -> None:
    path = workdir / "scenarios" / "designs" / "cli.yaml"  # so ../base.yaml resolves
    path.write_bytes(case.replace(b"{marker}", str(workdir / "PWNED").encode()))
    TRIED["cli_in_process"] += 2
    status, _, err = run_cli(["check", str(path)])
    check_cli(status, err)
    status, _, err = run_cli(["run", str(path), "--set", "run.days=1",
                              "--set", "population.size=5"])
    check_cli(status, err)


test_cli_in_process, test_cli_in_process_slow = fuzz(any_document(), 40)(_cli_in_process)


# --------------------------------------------------------------------------- --set values


@st.composite
def set_values(draw: Any) -> str:
    """``--set KEY=VALUE`` items: real and misspelt keys; plain, flow and hostile values."""
    key = draw(st.one_of(st.sampled_from([".".join(p) for p in ALL_PATHS]),
                         st.sampled_from(["popluation.size", "run.dayz", "x.y.z", "run",
                                          "population.size.extra", "."]),
                         st.text(min_size=1, max_size=12)))
    value = draw(st.one_of(
        st.sampled_from(TRICKY_TEXT + ["true", "1.0", "1.5", "[1, 2]", "{a: 1}", "&a [*a]",
                                       "!!python/object/apply:os.system [id]"]),
        st.builds(lambda n: "[" * n, st.integers(1, 40_000)),
        st.builds(lambda kind: "[" + laughs(kind).replace("\n", ", ").rstrip(", ") + "]",
                  st.sampled_from(["list", "map"])),
        st.text(max_size=60)))
    return f"{key}={value}"


def _set_values(workdir: Path, case: str) -> None:
    TRIED["set_values"] += 1
    started = time.perf_counter()
    try:
        load_scenario(SCENARIOS / "base.yaml", parse_set([case]))
    except ScenarioError as exc:
        check_error(exc)
        TRIED["set_values:error"] += 1
    assert time.perf_counter() - started < TIME_LIMIT_S, f"--set {case[:60]!r} took too long"


test_set_values, test_set_values_slow = fuzz(set_values(), 200)(_set_values)


# --------------------------------------------------------------------------- extends chains

CHAIN_TARGETS = ["next", "self", "first", "missing", "folder", "loop", "fifo", "foreign",
                 "nul", "none"]


def _extends_chains(workdir: Path, case: list[str]) -> None:
    """A chain of files, each ``extends`` one target: the next file, itself, the first
    (a cycle), a missing file, a folder, a symlink loop, a FIFO, a non-scenario file."""
    root = Path(tempfile.mkdtemp(dir=workdir))
    (root / "folder").mkdir()
    (root / "loop").symlink_to(root / "loop2")
    (root / "loop2").symlink_to(root / "loop")
    os.mkfifo(root / "fifo")
    (root / "foreign").write_text("root:*:19000:0:99999:7:::\nsecret: x\n")
    names = {"missing": "nowhere.yaml", "folder": "folder", "loop": "loop", "fifo": "fifo",
             "foreign": "foreign", "nul": "a\\0b", "self": None, "first": "f0.yaml"}
    for i, target in enumerate(case):
        ref = f"f{i + 1}.yaml" if target == "next" and i + 1 < len(case) else (
            f"f{i}.yaml" if target == "self" else names.get(target))
        body = f"extends: \"{ref}\"\n" if ref else ""
        (root / f"f{i}.yaml").write_text(body + f"run: {{days: {i + 1}}}\n")
    started = time.perf_counter()
    result = outcome(root / "f0.yaml", "extends_chains")
    assert time.perf_counter() - started < TIME_LIMIT_S
    if isinstance(result, ScenarioError):
        assert "19000" not in str(result) and "secret" not in str(result), result


test_extends_chains, test_extends_chains_slow = fuzz(
    st.lists(st.sampled_from(CHAIN_TARGETS), min_size=1, max_size=30), 100)(_extends_chains)


CLI_SAMPLES = {
    "nan.yaml": b"population:\n  female_share: .nan\n",
    "inf_cost.yaml": b"economics:\n  staff_cost_per_hour: .inf\n",
    "tag.yaml": b"population: !!python/object/apply:os.system ['echo pwned']\n",
    "bomb.yaml": laughs("list").encode(),
    "utf16.yaml": "name: x\n".encode("utf-16"),
    "junk.yaml": bytes(range(256)) * 4,
    "merge.yaml": b"run:\n  <<: 3\n",
    "typo.yaml": b"populaton:\n  size: 3\n",
    "floor.yaml": b"clinical:\n  effect_floor_hba1c_pct: 8\n  effect_reference_hba1c_pct: 8\n",
    "surrogate.yaml": b'program:\n  name: "\\ud800"\n',
    "ok.yaml": b"population:\n  size: 20\nrun:\n  days: 3\n",
}


def test_cli_subprocess_check_prints_one_line_per_bad_file(tmp_path: Path) -> None:
    paths = []
    for name, data in CLI_SAMPLES.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    proc = subprocess.run([sys.executable, "-m", "sim.cli.main", "check", *paths],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    TRIED["cli_subprocess"] += len(CLI_SAMPLES)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    fails = proc.stderr.strip().splitlines()
    assert len(fails) == len(CLI_SAMPLES) - 1, proc.stderr  # one line per bad file
    assert all(re.match(r"FAIL \S", line) for line in fails), proc.stderr
    assert "ok.yaml" in proc.stdout, proc.stdout


@pytest.mark.parametrize("name, extra", [
    ("ok.yaml", ["--set", "population.female_share=nan"]),
    ("ok.yaml", ["--set", "run.days=1", "--set", "population.size=5"]),
])
def test_cli_subprocess_run(tmp_path: Path, name: str, extra: list[str]) -> None:
    (tmp_path / name).write_bytes(CLI_SAMPLES[name])
    proc = subprocess.run([sys.executable, "-m", "sim.cli.main", "run", str(tmp_path / name),
                           *extra], capture_output=True, text=True, timeout=120)
    TRIED["cli_subprocess"] += 1
    check_cli(proc.returncode, proc.stderr)
    bad = name != "ok.yaml" or "nan" in " ".join(extra)
    assert proc.returncode == (2 if bad else 0), proc.stderr
