"""Reading a large results store: ``load_results`` and the resume scan, old vs new reader.

Usage: ``python benchmarks/bench_store.py [--runs 400000] [--parts 2000] [--repeat 2]``.
Builds a synthetic store (summary-sized rows: the real summary keys and sweep metadata,
random values; written straight with pyarrow, not by running the model) in a temporary
folder, then times, interleaved, the reader of f3abca5 (``pq.read_table`` + ``to_pandas``
per part, then concat and deduplicate; the scan read whole parts) against the current one
(one ``pyarrow.dataset`` scan; the scan reads only run_id and status), wall and CPU. The
table is appended to ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.engine.store import FORMAT, ResultsStore, compact, load_results, runs_schema

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.md"
OUTPUTS = [*(f"out_{i}" for i in range(40)), "share_hba1c_lt7.5", "hba1c_change_hba1c_lt7.5",
           *(f"sub_{i}" for i in range(40))]
"""Summary-sized: as many float outputs as ``sim.runner.summarize`` gives (~80)."""


def build(folder: Path, runs: int, parts: int) -> ResultsStore:
    """A store of ``runs`` ok runs in ``parts`` parts (written with the store's writer)."""
    store = ResultsStore(folder)
    store.write_manifest({"format": FORMAT, "n_runs": runs})
    meta = {"point": pa.int64(), "design": pa.string(), "replication": pa.int64(),
            "network.in_person_gain": pa.float64()}
    schema = runs_schema(pa.int64(), meta, OUTPUTS)
    rng = np.random.default_rng(1)
    per = runs // parts
    for number in range(parts):
        ids = np.arange(number * per, (number + 1) * per)
        columns = {"run_id": ids, "point": ids // 10, "design": ["hybrid_kickoff"] * per,
                   "replication": ids % 10, "network.in_person_gain": rng.random(per),
                   "seed": ids * 7919}
        columns |= {name: rng.random(per) for name in OUTPUTS}
        columns |= {"status": ["ok"] * per, "error": [None] * per,
                    "wall_time_s": rng.random(per)}
        store.write_part(number + 1, pa.table(columns, schema=schema), None)
    return store


def old_load(store: ResultsStore) -> pd.DataFrame:
    """The f3abca5 reader: pandas per part, concat, deduplicate."""
    frames = []
    for number, part in store.parts():
        frame = pq.read_table(part).to_pandas()
        frame["_part"] = number
        frames.append(frame)
    runs = pd.concat(frames, ignore_index=True)
    runs["_ok"] = runs["status"] == "ok"
    runs = runs.sort_values(["run_id", "_ok", "_part"], kind="stable")
    return runs.drop_duplicates("run_id", keep="last")


def old_scan(store: ResultsStore) -> dict:
    """The f3abca5 resume scan: every part read whole."""
    status: dict = {}
    for _, part in store.parts():
        table = pq.read_table(part)
        for run_id, st in zip(table.column("run_id").to_pylist(),
                              table.column("status").to_pylist(), strict=True):
            if status.get(run_id) != "ok":
                status[run_id] = st
    return status


def timed(call: Callable[[], object]) -> tuple[float, float]:
    """Wall and process CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400_000)
    parser.add_argument("--parts", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        store = build(Path(tmp) / "store", args.runs, args.parts)
        built = time.perf_counter() - started
        size = sum(p.stat().st_size for _, p in store.parts()) / 2**20
        measures = {"load_results, old (pandas per part)": lambda: old_load(store),
                    "load_results, new (pyarrow.dataset)": lambda: load_results(store.path),
                    "resume scan, old (whole parts)": lambda: old_scan(store),
                    "resume scan, new (run_id, status)": lambda: store.scan()}
        assert len(load_results(store.path).runs) == len(old_load(store)) == args.runs
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in measures}
        for _ in range(args.repeat):  # interleaved: load on the shared machine hits both
            for name, call in measures.items():
                times[name].append(timed(call))
        compact_wall, _ = timed(lambda: compact(store.path))
        after = len(store.parts())
        compacted = {"load_results after compaction": timed(lambda: load_results(store.path)),
                     "resume scan after compaction": timed(lambda: store.scan())}
    lines = [f"\n## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}\n",
             f"{args.runs:,} runs in {args.parts:,} parts ({len(OUTPUTS)} outputs, "
             f"{size:,.0f} MiB; built in {built:.0f} s); median of {args.repeat}, "
             "interleaved, on a shared 2-core machine.\n",
             "| measure | wall s | CPU s |", "| --- | ---: | ---: |"]
    for name, values in times.items():
        lines.append(f"| {name} | {statistics.median(w for w, _ in values):.2f} | "
                     f"{statistics.median(c for _, c in values):.2f} |")
    lines.append(f"| compaction ({args.parts:,} -> {after} parts) | {compact_wall:.2f} | |")
    for name, (wall, cpu) in compacted.items():
        lines.append(f"| {name} | {wall:.2f} | {cpu:.2f} |")
    text = "\n".join(lines) + "\n"
    if not RESULTS.exists():
        RESULTS.write_text("# Results store read times\n\nWritten by "
                           "`benchmarks/bench_store.py`.\n")
    with RESULTS.open("a") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
