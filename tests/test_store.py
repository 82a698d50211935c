"""The results store: provenance, resume refusals, foreign contents, SQL-friendly layout,
readers (pandas, polars, DuckDB), compaction."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sim
from sim.analyses.sa_runner import analyze_store
from sim.engine.options import RunOptions
from sim.engine.store import ResultsStore, compact, load_results, sql_name
from sim.engine.tasks import Task, run_tasks
from sim.params.errors import ScenarioError
from sim.runner import PACKAGES, code_identity, package_versions

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "results.md"
BASE = {"population": {"size": 60}, "run": {"days": 14, "record_every_days": 7}}
SERIAL = RunOptions(executor="serial")


def _tasks(n: int = 4, base: dict | None = None) -> list[Task]:
    base = base or BASE
    return [Task(run_id=i, scenario=base, seed=10 + i,
                 overrides={"network.in_person_gain": 0.01 * i},
                 meta={"network.in_person_gain": 0.01 * i, "replication": i % 2})
            for i in range(n)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("store") / "out"
    run_tasks(_tasks(6), out, RunOptions(executor="serial", flush_every=2), timeseries=True)
    return out


def _edit_manifest(out: Path, edit) -> None:
    path = out / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


# --------------------------------------------------------------------------- provenance


def test_provenance_names_code_and_every_number_changing_version(store: Path) -> None:
    for name in ("numpy", "scipy", "numba", "llvmlite", "pyarrow", "pandas", "SALib",
                 "networkx", "mesa", "pydantic"):
        assert name in PACKAGES
    assert set(package_versions()) == {"python", *PACKAGES}
    code = code_identity()
    assert re.fullmatch(r"[0-9a-f]{64}", code["source_sha256"])
    if (ROOT / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}", code["git_commit"])
        assert isinstance(code["git_dirty"], bool)
    result = sim.run(BASE, 1)
    assert result.provenance["code"] == code
    assert result.provenance["versions"] == package_versions()
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["code"] == code and manifest["versions"] == package_versions()
    assert manifest["sessions"][0]["code"] == code


# --------------------------------------------------------------------------- resume


def test_resume_refuses_other_code_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_tasks(_tasks(2), out, SERIAL)
    _edit_manifest(out, lambda m: m["code"].update(source_sha256="0" * 64))
    with pytest.raises(ScenarioError, match=r"model code: source hash 000000000000 ->"):
        run_tasks(_tasks(2), out, RunOptions(executor="serial", resume=True))
    with pytest.warns(RuntimeWarning, match="resuming anyway"):
        report = run_tasks(_tasks(2), out, RunOptions(executor="serial", resume=True,
                                                       force_resume=True))
    assert report.skipped == 2


def test_cli_force_resume_reaches_the_run_options() -> None:
    from sim.cli.main import build_parser
    from sim.cli.options import run_options

    for command in ("sweep", "sensitivity", "compare", "validate"):
        args = build_parser().parse_args([command, "x.yaml", "--resume", "--force-resume"])
        assert run_options(args).force_resume, f"{command} --force-resume"
        args = build_parser().parse_args([command, "x.yaml", "--resume"])
        assert not run_options(args).force_resume, f"{command} without --force-resume"


def test_resume_deletes_temporary_files_of_interrupted_writes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_tasks(_tasks(2), out, SERIAL)
    left = [out / ".manifest.json.99999.tmp", out / "runs" / ".part-000009.parquet.99999.tmp"]
    for path in left:
        path.write_bytes(b"half")
    assert run_tasks(_tasks(2), out, RunOptions(executor="serial", resume=True)).skipped == 2
    assert not any(path.exists() for path in left)


@pytest.mark.parametrize("fsync", [False, True])
def test_parts_are_fsynced_only_when_asked(tmp_path: Path, monkeypatch, fsync: bool) -> None:
    """Default: atomic renames, no fsync per part (the manifest always); --fsync: every part
    and its directory entry."""
    import sim.engine.store as store_module
    from sim.cli.main import build_parser
    from sim.cli.options import run_options

    synced: list[int] = []
    real = store_module.os.fsync
    monkeypatch.setattr(store_module.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    args = ["sweep", "x.yaml", "--executor", "serial", *(["--fsync"] if fsync else [])]
    options = run_options(build_parser().parse_args(args))
    assert options.fsync is fsync
    run_tasks(_tasks(4), tmp_path / "out", options, timeseries=True)
    parts = len(ResultsStore(tmp_path / "out").parts())
    assert parts >= 1 and len(load_results(tmp_path / "out").runs) == 4
    # the manifest (file + folder); with fsync also each runs and time-series part (x 2)
    assert len(synced) == 2 + (4 * parts if fsync else 0)


def test_resume_refuses_other_package_versions_naming_them(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_tasks(_tasks(2), out, SERIAL)
    _edit_manifest(out, lambda m: m["versions"].update(numba="0.1", peersupport="0.0"))
    with pytest.raises(ScenarioError, match=r"numba: 0\.1 -> ") as info:
        run_tasks(_tasks(2), out, RunOptions(executor="serial", resume=True))
    assert "peersupport" not in str(info.value), "the code hash covers the package itself"
    _edit_manifest(out, lambda m: (m.pop("code"), m.update(versions=package_versions())))
    with pytest.raises(ScenarioError, match="code identity: not recorded"):
        run_tasks(_tasks(2), out, RunOptions(executor="serial", resume=True))


def test_resume_refuses_an_edited_edge_list_naming_it(tmp_path: Path) -> None:
    edges = tmp_path / "edges.csv"
    edges.write_text("\n".join(f"{i},{i + 1}" for i in range(0, 60, 2)) + "\n")
    base = {**BASE, "network": {"background": {"kind": "edge_list", "edge_list": str(edges)}}}
    out = tmp_path / "out"
    run_tasks(_tasks(3, base)[:3], out, SERIAL)
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["inputs"]) == [str(edges)]
    assert run_tasks(_tasks(3, base), out, RunOptions(executor="serial", resume=True)).ran == 0
    edges.write_text("\n".join(f"{i},{i + 2}" for i in range(0, 58, 2)) + "\n")
    with pytest.raises(ScenarioError, match=re.escape(f"{edges} (content changed)")):
        run_tasks(_tasks(3, base), out, RunOptions(executor="serial", resume=True))


# --------------------------------------------------------------------------- foreign contents


def test_foreign_part_is_refused_on_resume_and_skipped_on_load(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_tasks(_tasks(3), out, SERIAL)
    foreign = out / "runs" / "part-000099.parquet"
    pq.write_table(pa.table({"x": [1, 2, 3], "note": ["a", "b", "c"]}), foreign)
    with pytest.raises(ScenarioError, match=re.escape(str(foreign)) + ".*no run_id or status"):
        run_tasks(_tasks(3), out, RunOptions(executor="serial", resume=True))
    with pytest.warns(RuntimeWarning, match="not a results part"):
        res = load_results(out)
    assert sorted(res.runs["run_id"]) == [0, 1, 2] and res.runs["status"].eq("ok").all()
    assert foreign.exists(), "a file we did not write is never moved or deleted"


@pytest.mark.parametrize("text, expected", [
    ("[1, 2]", "expected a JSON object, got a list"),
    ('{"kind": "sensitivity"}', "not a peersupport results manifest"),
    ('{"format": "peersupport-results/2", "kind": "sensitivity"}', "no 'analysis' object"),
])
def test_hand_made_manifest_gives_a_clear_error(tmp_path: Path, text: str,
                                                expected: str) -> None:
    out = tmp_path / "out"
    run_tasks(_tasks(1), out, SERIAL)
    (out / "manifest.json").write_text(text)
    for attempt in (lambda: load_results(out),
                    lambda: run_tasks(_tasks(1), out, RunOptions(executor="serial",
                                                                 resume=True)),
                    lambda: analyze_store(out)):
        with pytest.raises(ScenarioError, match=re.escape(expected)) as info:
            attempt()
        assert "manifest.json" in str(info.value)


# --------------------------------------------------------------------------- layout, readers


def test_sql_names_are_one_rule() -> None:
    assert sql_name("network.in_person_gain") == "network__in_person_gain"
    assert sql_name("share_hba1c_lt7.5") == "share_hba1c_lt7_5"
    assert sql_name("hba1c_change_hba1c_ge9") == "hba1c_change_hba1c_ge9"
    assert sql_name("a b-c") == "a_b_c"


def test_files_hold_sql_names_and_integer_days_loader_gives_model_names(store: Path) -> None:
    schema = pq.read_schema(sorted((store / "runs").glob("*.parquet"))[0])
    assert "network__in_person_gain" in schema.names and "share_hba1c_lt7_5" in schema.names
    assert not [n for n in schema.names if not re.fullmatch(r"[A-Za-z0-9_]+", n)]
    ts_schema = pq.read_schema(sorted((store / "timeseries").glob("*.parquet"))[0])
    assert pa.types.is_integer(ts_schema.field("day").type)
    res = load_results(store)
    assert "network.in_person_gain" in res.runs.columns
    assert "share_hba1c_lt7.5" in res.output_columns and "share_hba1c_lt7.5" in res.runs
    assert res.timeseries is not None and res.timeseries["day"].dtype.kind == "i"


def _doc_queries() -> list[str]:
    """The DuckDB queries of docs/results.md (```sql blocks)."""
    return re.findall(r"```sql\n(.*?)```", DOCS.read_text(), flags=re.S)


def test_duckdb_queries_from_the_docs_run_on_a_real_store(store: Path) -> None:
    import duckdb

    queries = _doc_queries()
    assert len(queries) >= 4
    con = duckdb.connect()
    res = load_results(store)
    answers = []
    for query in queries:
        answers.append(con.execute(query.replace("results/my_sweep", str(store))).fetchall())
    assert answers[0][0][0] == len(res.runs), "runs/*.parquet: one row per run"
    assert answers[1][0][0] == len(res.timeseries), "timeseries/*.parquet: the series"
    means = dict(answers[2])
    for gain, group in res.runs.groupby("network.in_person_gain"):
        assert means[gain] == pytest.approx(group["share_hba1c_lt7.5"].mean())
    assert {row[0] for row in answers[3]} == set(res.runs["run_id"])


def test_polars_and_pandas_read_the_store(store: Path) -> None:
    import pandas as pd
    import polars as pl

    frame = pl.read_parquet(store / "runs" / "*.parquet")
    assert frame.height == 6 and "share_hba1c_lt7_5" in frame.columns
    assert len(pd.read_parquet(store / "runs")) == 6
    ts = pl.read_parquet(store / "timeseries" / "*.parquet")
    assert ts["day"].dtype.is_integer()


def test_old_store_with_dotted_names_still_loads(tmp_path: Path) -> None:
    out = tmp_path / "old"
    (out / "runs").mkdir(parents=True)
    (out / "manifest.json").write_text(json.dumps({"format": "peersupport-results/1"}))
    table = pa.table({"run_id": [0, 1], "network.in_person_gain": [0.1, 0.2],
                      "share_hba1c_lt7.5": [0.3, 0.4], "status": ["ok", "ok"]})
    table = table.replace_schema_metadata(
        {b"peersupport.outputs": json.dumps(["share_hba1c_lt7.5"]).encode()})
    pq.write_table(table, out / "runs" / "part-000001.parquet")
    res = load_results(out)
    assert list(res.runs["network.in_person_gain"]) == [0.1, 0.2]
    assert res.output_columns == ["share_hba1c_lt7.5"]


# --------------------------------------------------------------------------- compaction


def test_compaction_keeps_every_run_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_tasks(_tasks(7), out, RunOptions(executor="serial", flush_every=1), timeseries=True)
    store = ResultsStore(out)
    # a run recorded twice (a failed record, then the ok one): loading keeps the ok one
    first = pq.read_table(store.parts()[0][1])
    failed = first.set_column(first.column_names.index("status"), "status",
                              pa.array(["failed"] * first.num_rows))
    pq.write_table(failed, out / "runs" / "part-000000.parquet")
    before = load_results(out)
    n_parts = len(store.parts())
    assert n_parts >= 4 and before.runs["status"].eq("ok").all()
    series = before.timeseries  # read now: it is loaded lazily
    assert series is not None and len(series) == 7 * 3
    parts_before, parts_after = compact(out, rows_per_part=3)
    after = load_results(out)
    assert parts_before == n_parts and 2 <= parts_after < n_parts
    assert len(store.parts()) == parts_after and not list(out.glob("**/.*.tmp"))
    assert after.runs.equals(before.runs)
    assert after.timeseries.equals(series)
    rows = sum(pq.read_metadata(p).num_rows for _, p in store.parts())
    assert rows == 7, "every run exactly once in the files"
    assert run_tasks(_tasks(7), out, RunOptions(executor="serial", resume=True)).ran == 0


def test_store_compact_command(tmp_path: Path, capsys) -> None:
    from sim.cli.main import main

    out = tmp_path / "out"
    run_tasks(_tasks(3), out, RunOptions(executor="serial", flush_every=1))
    parts = len(ResultsStore(out).parts())
    assert parts >= 2
    assert main(["store", "compact", str(out)]) == 0
    assert f"{parts} runs parts -> 1" in capsys.readouterr().out
    assert len(load_results(out).runs) == 3
    assert main(["store", "compact", str(tmp_path / "missing")]) == 2


def test_column_dictionary_is_current_and_complete() -> None:
    from sim.report.columns_table import UNDECLARED, column_table, summary_keys

    table = column_table()
    assert table in DOCS.read_text(), ("docs/results.md is stale: run "
                                       "python -m sim.report.columns_table")
    assert UNDECLARED not in table, "declare every summary key in sim/core/outcomes.py"
    keys = summary_keys()
    assert len(table.splitlines()) == len(keys) + 2 and "`share_hba1c_lt7_5`" in table
    assert UNDECLARED in column_table(["a_new_key"]), "a key without declaration is flagged"
