"""The one located-error translator: file, line, key path, expectation, did-you-mean."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from sim.params.errors import ScenarioError, short
from sim.params.located import Strict, dotted, load_document, model_at
from sim.params.scenario import load_scenario, parse_set


class Inner(Strict):
    """A nested section."""

    rate: float = Field(1.0, ge=0, le=1, description="a share")
    shape: Literal["unif", "triang"] = Field("unif", description="the shape")


class Doc(Strict):
    """A document with a section, a mapping of sections and a list of sections."""

    name: str = Field(description="the name")
    count: int = Field(1, ge=1, description="how many")
    inner: Inner = Field(default_factory=Inner, description="a section")
    by_key: dict[str, Inner] = Field(default_factory=dict, description="sections by key")
    rows: list[Inner] = Field(default_factory=list, description="sections in a list")


def error(tmp_path: Path, text: str) -> ScenarioError:
    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_document(path, Doc)
    err = info.value
    assert err.file == str(path), err
    return err


def test_unknown_key_names_line_and_suggests(tmp_path: Path) -> None:
    err = error(tmp_path, "name: a\ninner:\n  rte: 0.5\n")
    assert err.line == 3 and err.path == "inner.rte"
    assert "unknown key 'inner.rte'; did you mean 'rate'?" in str(err)
    assert "Valid keys in inner: rate, shape" in str(err)


def test_unknown_key_inside_a_mapping_of_sections(tmp_path: Path) -> None:
    err = error(tmp_path, "name: a\nby_key:\n  first:\n    rate: 0.1\n    shap: unif\n")
    assert err.line == 5 and "did you mean 'shape'?" in str(err), err


def test_wrong_type_names_line_and_value(tmp_path: Path) -> None:
    err = error(tmp_path, "name: a\ncount: many\n")
    assert err.line == 2 and err.path == "count"
    assert "count: " in str(err) and "'many'" in str(err)


def test_out_of_range_names_bound_and_value(tmp_path: Path) -> None:
    err = error(tmp_path, "name: a\nrows:\n  - {rate: 0.5}\n  - {rate: 1.5}\n")
    assert err.line == 4 and err.path == "rows[1].rate", err
    assert "rows[1].rate must be <= 1, got 1.5" in str(err)


def test_misspelt_choice_and_missing_key(tmp_path: Path) -> None:
    err = error(tmp_path, "name: a\ninner: {shape: triangle}\n")
    assert err.line == 2 and "did you mean 'triang'?" in str(err), err
    err = error(tmp_path, "count: 2\n")
    assert "missing required key 'name' (the name)" in str(err)


def test_several_problems_are_summarised_with_lines(tmp_path: Path) -> None:
    err = error(tmp_path, "name: a\ncount: 0\ninner:\n  rate: -1\n")
    assert err.line == 2 and "(and 1 more: line 4: inner.rate must be >= 0" in str(err), err


def test_section_given_as_a_value(tmp_path: Path) -> None:
    err = error(tmp_path, "name: a\ninner: 3\n")
    assert "inner must be a section (a mapping of keys), got 3" in str(err)


def test_helpers() -> None:
    assert dotted(("levers", "a.b", "2")) == "levers.a.b[2]"
    assert model_at(Doc, ("by_key", "x")) is Inner and model_at(Doc, ("rows", "0")) is Inner
    assert model_at(Doc, ("name",)) is None
    assert short("x" * 100).endswith("...") and len(short("x" * 100)) == 60


@pytest.mark.parametrize("text", ["0[: []\nname: x\n", "population:\n  0[: []\n",
                                  "{Program: null}\n"])
def test_a_key_with_a_bracket_is_reported_not_dropped(tmp_path: Path, text: str) -> None:
    """A user key like ``0[`` is not one of pydantic's union tags (``dict[str,any]``)."""
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"unknown key '(population\.)?(0\[|Program)'"):
        load_scenario(path)


def test_previews_are_bounded_whatever_the_value() -> None:
    """A preview never builds the full repr: megabytes of text, long lists, huge integers."""
    big = ["x" * 1_000_000] * 1_000  # a gigabyte once shown in full
    tracemalloc.start()
    try:
        text = short(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert text == repr(["x" * 60])[:57] + "..." and peak < 1_000_000, (text, peak)
    assert short(list(range(100))) == repr(list(range(100)))[:57] + "..."
    assert short({"b": [1, 2], "a": (3,)}) == repr({"b": [1, 2], "a": (3,)})
    assert short("a" * 100 + "'") == repr("a" * 100 + "'")[:57] + "..."  # repr's quotes
    assert short(10**5000) == "<5,001-digit integer>"
    assert short("x" * 30, 10, "\u2026") == "'xxxxxxxx\u2026" and short("x" * 30, 2) == ".."
    nested = [1] * 60
    for _ in range(6):  # 60**7 elements shared by reference: repr would never finish
        nested = [nested] * 60
    assert short(nested) == ("[" * 7 + ", ".join(["1"] * 60))[:57] + "..."


@pytest.mark.parametrize("value", [10**5000, [10**5000], {"a": -(10**9999)}],
                         ids=["int", "in_list", "in_mapping"])
def test_an_integer_too_long_to_print_is_a_scenario_error(value: object) -> None:
    """Python's int_max_str_digits made repr raise ValueError: a traceback, not an error."""
    with pytest.raises(ScenarioError, match=r"population.size.*5,001-digit integer|"
                                            r"population.size.*10,000-digit integer"):
        load_scenario({"population": {"size": value}})
    with pytest.raises(ScenarioError, match=r"--set population.size=.*digit integer"):
        load_scenario({}, {"population.size": value})  # an override names its own value


def test_previews_and_key_paths_never_raise_or_grow() -> None:
    """Objects whose repr raises, negative huge integers, long keys in every message."""

    class Raises:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert short(Raises()) == "<Raises>"
    assert short(-(10**5000)) == "<negative 5,001-digit integer>"
    assert short(10**5000 - 1) == "<5,000-digit integer>"
    assert short(set()) == "set()" and short(frozenset({1})) == "{1}"
    assert dotted(("a", "k" * 300, "2")) == "a." + "k" * 57 + "...[2]"
    with pytest.raises(ScenarioError, match="the key path is over 256 characters") as info:
        parse_set(["k" * 300 + "=1"])
    assert len(str(info.value)) < 150, str(info.value)


def test_a_long_key_written_twice_is_named_cut(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    key = "q" * 250
    path.write_text(f"population:\n  {key}: 1\n  {key}: 2\n")
    with pytest.raises(ScenarioError, match="appears twice") as info:
        load_scenario(path)
    assert len(str(info.value)) < len(str(path)) + 120, str(info.value)
