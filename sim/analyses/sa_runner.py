"""Sensitivity analyses of the ABM: sensitivity files, runs through the sweep engine, analysis.

A sensitivity file (``scenarios/sensitivity/*.yaml``; docs/sensitivity.md)::

    name: qol_sobol
    base: ../designs/hybrid_kickoff.yaml      # scenario file, relative to this file
    set: {population.size: 1000}              # fixed overrides for every run (optional)
    inputs:                                   # uncertain inputs by dotted parameter path
      behaviour.support_effect_logit: {low: 0.75, high: 2.5}
      network.in_person_gain: {low: 0.2, high: 0.8, dist: triangular, mode: 0.5,
                               group: program design}   # optional groups
    method: sobol                             # sobol | morris | fast | delta | pawn
    settings: {n: 256, second_order: false}   # method settings (n always)
    outputs:
      primary: utility_change                 # the output the summary leads with
      also: [qalys_per_patient, pdc_change]   # further outputs analysed alike
    replications: 2                           # runs per sample point, averaged
    seed: 20240601                            # root of every sample, run and bootstrap
    streams: common                           # common (default) or independent
    comparator: ../designs/usual_care.yaml    # optional: analyse differences from it
    analysis: {num_resamples: 1000, conf_level: 0.95, tolerance: 0.05}

Everything is validated before anything runs, as sweep files are (the helpers of
:mod:`sim.analyses.sweep`): unknown keys with a did-you-mean, parameter paths that are
not in the scenario schema, each range end and every sample point applied to the base
scenario (so a bound outside the parameter's allowed range names the file, line and bound),
outputs that a run does not produce, settings that the method does not use.

Each sample point x replication is one run of :func:`sim.engine.tasks.run_tasks`, so a
sensitivity analysis is distributed, streamed and resumable like a sweep; the results store
holds the analysis in its manifest (``kind: sensitivity``), so :func:`analyze_store` can
re-analyse it without the file and give the same numbers. Given-data methods (delta, PAWN)
also analyse any Latin-hypercube sweep store.

Run seeds (``streams``): ``common`` (default) gives replication r of every sample point the
seed ``derive_seed(seed, r)``: common random numbers across points, the seed of replication
r of ``peersupport run``. ``independent`` gives ``derive_seed(seed, point, r)``. Why common
is the default: docs/sensitivity.md.

With a ``comparator`` (a scenario file relative to the sensitivity file, or a ready scenario's
name such as ``designs/usual_care``), every sample point x replication also runs the
comparator with the same seed (paired runs, common random numbers) and with the same values
of every input and ``set`` key outside ``program.`` (the design's own levers stay the
design's); each output is analysed as its difference, design minus comparator, named
``<output>_diff`` (``qalys_per_patient_diff``).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from sim.analyses.basefile import changed_keys, check_value, load_base
from sim.analyses.sensitivity import (
    MIN_CONVERGENCE_N,
    RANKING_INDEX,
    SAMPLER_FOR,
    Input,
    SensitivityResult,
    analyze_replications,
    bootstrap_seeds,
    converged,
    make_problem,
    recommend_n,
    sample,
)
from sim.core.outcomes import summary_keys
from sim.core.rng import derive_seed
from sim.engine.budget import check_runs
from sim.engine.options import RunOptions
from sim.engine.store import ResultsStore, load_results
from sim.engine.tasks import RunReport, Task, run_tasks
from sim.params.errors import ScenarioError, short
from sim.params.located import Located, Strict, load_document
from sim.params.scenario import Scenario, check_parameter_path, load_scenario, parse_set
from sim.uncertainty import BOUNDED, RangeSpec, resolve_ranges, stored_dist

__all__ = [
    "DEFAULT_OUTPUTS",
    "Budget",
    "SensitivityPlan",
    "SensitivitySpec",
    "analyze_store",
    "describe_result",
    "comparator_overrides",
    "estimate_budget",
    "load_sensitivity",
    "paired_differences",
    "run_sensitivity",
]

PRIMARY_OUTPUT = "utility_change"
"""The default primary output: change in mean EQ-5D utility (QoL) over the run."""

DEFAULT_OUTPUTS = (
    "utility_change",
    "qalys_per_patient",
    "pdc_change",
    "hba1c_change",
    "cost_per_patient_discounted",
    "nmb_per_patient",
)
"""Outputs analysed when a file or ``--analyze`` names none (the first is the primary)."""

LOG_FILE = "sensitivity_log.json"
"""Sessions of a sensitivity run (wall time per invocation), kept beside the store."""

MAX_CHECKED_POINTS = 200_000
"""Sample points validated one by one against the base scenario before running."""

_SETTINGS_FOR = {
    "sobol": {"n", "second_order"},
    "morris": {"n", "num_levels", "optimal_trajectories"},
    "fast": {"n", "M"},
    "delta": {"n"},
    "pawn": {"n", "slices"},
}
"""Which ``settings`` keys each method uses."""

MAX_RESAMPLES = 100_000
"""Most bootstrap resamples (each holds a copy of the indices: 10^9 would need ~30 GiB)."""


# --------------------------------------------------------------------------- the file


class InputSpec(RangeSpec):
    """One uncertain input: a range and its distribution, optionally in a group."""

    group: str | None = Field(None, min_length=1,
                              description="group name: sobol/morris/pawn then report one "
                              "index per group")


class SettingsSpec(Strict):
    """Method settings; each method uses some of them (``n`` always)."""

    n: int = Field(ge=1, le=10_000_000, description="sobol: base samples N (a power of 2); "
                   "morris: trajectories; fast: points per search curve; delta/pawn: Latin "
                   "hypercube points")
    second_order: bool | None = Field(None, description="sobol: also estimate S2 (adds N*D "
                                      "runs)")
    num_levels: int | None = Field(None, ge=2, le=1000, description="morris: grid levels "
                                   "(even; default 4)")
    optimal_trajectories: int | None = Field(None, ge=2, le=10_000,
                                             description="morris: keep this many of n "
                                             "trajectories, chosen for spread")
    M: int | None = Field(None, ge=1, le=50, description="fast: interference parameter "
                          "(default 4)")
    slices: int | None = Field(None, ge=2, le=100, description="pawn: conditioning slices "
                               "(default 10)")


class OutputsSpec(Strict):
    """Which summary outputs to analyse."""

    primary: str = Field(PRIMARY_OUTPUT, description="the output the summary leads with")
    also: list[str] = Field(default_factory=lambda: list(DEFAULT_OUTPUTS[1:]),
                            description="further outputs analysed alike")


class AnalysisSpec(Strict):
    """Bootstrap and convergence settings."""

    num_resamples: int = Field(1000, ge=2, le=MAX_RESAMPLES, description="bootstrap resamples")
    conf_level: float = Field(0.95, gt=0, lt=1, description="interval level")
    tolerance: float = Field(0.05, gt=0, le=1, description="largest change of an index "
                             "between N/2 and N that counts as converged")


class SensitivitySpec(Strict):
    """The whole sensitivity file."""

    name: str = Field("", description="analysis name")
    description: str = Field("", description="free text")
    base: str = Field(description="base scenario file, relative to the sensitivity file")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="fixed overrides for every run, by dotted path")
    inputs: dict[str, InputSpec] = Field(description="uncertain inputs by dotted path")
    method: Literal["sobol", "morris", "fast", "delta", "pawn"] = Field(
        description="sobol, morris, fast (eFAST), delta or pawn (given-data, on a Latin "
        "hypercube)")
    settings: SettingsSpec = Field(description="method settings (n, ...)")
    outputs: OutputsSpec = Field(default_factory=OutputsSpec, description="analysed outputs")
    replications: int = Field(2, ge=1, le=10_000, description="runs per sample point")
    seed: int = Field(ge=0, le=2**63 - 1, description="root seed of samples, runs, bootstrap")
    streams: Literal["common", "independent"] = Field(
        "common", description="run seeds: common random numbers across sample points, or "
        "independent per point")
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec,
                                   description="bootstrap and convergence settings")
    comparator: str | None = Field(None, min_length=1, description="scenario file (relative "
                                   "to this file) or ready scenario name: analyse each "
                                   "output's difference from it, run with the same seeds")


DIFF_SUFFIX = "_diff"
"""Suffix of an output analysed as its difference from the comparator."""

DESIGN_ONLY = "program."
"""Inputs and ``set`` keys under this prefix are the design's own: the comparator keeps its."""


def comparator_overrides(values: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides a comparator run shares with its design run (all but the design's own)."""
    return {k: v for k, v in values.items() if not k.startswith(DESIGN_ONLY)}


@dataclass(frozen=True)
class SensitivityPlan:
    """A validated sensitivity file: inputs, sample points and the runs they need.

    Attributes:
        path: the file (None for a dict).
        text: the file as given.
        spec: the parsed file.
        base: the resolved base scenario (``set`` applied), as a dict.
        inputs: the uncertain inputs.
        X: sample points, one column per input (index ``point``); analysed as drawn.
        integer: inputs whose parameter is an integer (runs use the rounded value).
        comparator: the resolved comparator scenario (``set`` outside ``program.`` applied),
            as a dict; None without one.
    """

    path: Path | None
    text: str
    spec: SensitivitySpec
    base: dict[str, Any] = field(repr=False)
    inputs: list[Input] = field(repr=False)
    X: pd.DataFrame = field(repr=False)
    integer: frozenset[str] = frozenset()
    comparator: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def outputs(self) -> list[str]:
        """Outputs the runs give for the analysis, the primary first (summary keys)."""
        primary = self.spec.outputs.primary
        return [primary, *dict.fromkeys(o for o in self.spec.outputs.also if o != primary)]

    @property
    def arms(self) -> int:
        """Runs per sample point and replication: 2 with a comparator, else 1."""
        return 2 if self.comparator is not None else 1

    @property
    def n_runs(self) -> int:
        """Runs in the analysis: sample points x replications (x 2 with a comparator)."""
        return len(self.X) * self.spec.replications * self.arms

    @property
    def title(self) -> str:
        """Heading of the report."""
        name = self.spec.name or (self.path.stem if self.path else "sensitivity")
        if self.comparator is None:
            return f"{name}: what drives {self.spec.outputs.primary}"
        return (f"{name}: what drives {self.spec.outputs.primary}{DIFF_SUFFIX} (the difference "
                f"from {self.comparator['program']['name']})")

    def options(self) -> dict[str, Any]:
        """Sampler and analyser options of the method (defaults filled in)."""
        return _method_options(self.spec)

    def seed_of(self, point: int, replication: int) -> int:
        """The run seed of a sample point's replication (see ``streams``)."""
        if self.spec.streams == "common":
            return derive_seed(self.spec.seed, replication)
        return derive_seed(self.spec.seed, point, replication)

    def tasks(self) -> list[Task]:
        """Every run: for each point, each replication (run_id = point * R + replication).

        With a comparator, each is a pair, design then comparator with the same seed:
        run_id = 2 * (point * R + replication) + arm (arm 0 the design, 1 the comparator).
        """
        names = [i.name for i in self.inputs]
        reps, arms = self.spec.replications, self.arms
        out = []
        for p, row in enumerate(self.X[names].itertuples(index=False, name=None)):
            values = {n: float(v) for n, v in zip(names, row, strict=True)}
            overrides = {n: (round(v) if n in self.integer else v) for n, v in values.items()}
            for r in range(reps):
                meta = {"point": p, "replication": r, **values}
                if self.comparator is None:
                    out.append(Task(run_id=p * reps + r, scenario=self.base,
                                    seed=self.seed_of(p, r), overrides=overrides, meta=meta))
                    continue
                pair = (p * reps + r) * arms
                out.append(Task(run_id=pair, scenario=self.base, seed=self.seed_of(p, r),
                                overrides=overrides, meta={**meta, "arm": 0}))
                out.append(Task(run_id=pair + 1, scenario=self.comparator,
                                seed=self.seed_of(p, r),
                                overrides=comparator_overrides(overrides),
                                meta={**meta, "arm": 1}))
        return out

    def analysis(self) -> dict[str, Any]:
        """What :func:`analyze_store` needs to analyse the store (kept in its manifest)."""
        spec = self.spec
        return {
            "title": self.title,
            "method": spec.method,
            "n": spec.settings.n,
            "inputs": [dataclasses.asdict(i) for i in self.inputs],
            "integer": sorted(self.integer),
            "outputs": self.outputs,
            "primary_output": spec.outputs.primary,
            "replications": spec.replications,
            "streams": spec.streams,
            "seed": spec.seed,
            "bootstrap": bootstrap_seeds(spec.seed),
            "options": self.options(),
            "num_resamples": spec.analysis.num_resamples,
            "conf_level": spec.analysis.conf_level,
            "tolerance": spec.analysis.tolerance,
            "n_points": len(self.X),
            "design": {k: v for k, v in self.X.attrs.items() if k != "names"},
            "comparator": None if self.comparator is None
            else self.comparator["program"]["name"],
        }

    def resolved(self) -> dict[str, Any]:
        """Everything the runs and the analysis depend on (hashed to guard --resume)."""
        out = {"spec": self.spec.model_dump(mode="json"), "base": self.base}
        if self.comparator is not None:
            out["comparator"] = self.comparator
        return out

    def sha256(self) -> str:
        """Hash of :meth:`resolved` (canonical JSON)."""
        text = json.dumps(self.resolved(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def manifest(self) -> dict[str, Any]:
        """Manifest entries of the results store."""
        names = [i.name for i in self.inputs]
        return {
            "kind": "sensitivity",
            "name": self.spec.name,
            "sensitivity_file": str(self.path) if self.path else None,
            "sensitivity_text": self.text,
            "sensitivity_sha256": self.sha256(),
            "seed": self.spec.seed,
            "resolved": self.resolved(),
            "analysis": self.analysis(),
            "columns": {"levers": [], "parameters": names,
                        "metadata": ["point", "replication",
                                     *(["arm"] if self.comparator is not None else []),
                                     *names]},
        }

    def describe(self) -> str:
        """A short plan: sample points x replications = runs."""
        spec, sc = self.spec, self.base
        pair = (f" x 2 (design and comparator {self.comparator['program']['name']}, same "
                "seed)" if self.comparator is not None else "")
        return (f"{spec.method} on {len(self.inputs)} inputs: {len(self.X):,} sample points "
                f"(n = {spec.settings.n}) x {spec.replications} replications{pair} = "
                f"{self.n_runs:,} runs of {sc['population']['size']:,} patients x "
                f"{sc['run']['days']} days")


@dataclass(frozen=True)
class Budget:
    """How long a sensitivity analysis will take, from timing a few of its runs here."""

    seconds_per_run: float
    runs: int
    workers: int

    @property
    def total_seconds(self) -> float:
        """Wall time of every run, spread evenly over the workers."""
        return self.runs * self.seconds_per_run / self.workers

    def describe(self) -> str:
        """One line: time per run, runs, workers, total."""
        return (f"one run takes about {self.seconds_per_run:.2f} s here; {self.runs:,} runs on "
                f"{self.workers} worker(s): about {self.total_seconds / 60:.1f} min (more on a "
                "busy machine)")


def estimate_budget(plan: SensitivityPlan, options: RunOptions, timed_runs: int = 2) -> Budget:
    """Time ``timed_runs`` runs at the first sample points and extrapolate to the plan."""
    from sim.engine.executors import default_workers
    from sim.runner import run

    tasks = plan.tasks()[:: plan.spec.replications * plan.arms][:timed_runs]
    started = time.perf_counter()
    for task in tasks:
        run(plan.base, task.seed, overrides=dict(task.overrides), timeseries=False)  # as run
    per_run = (time.perf_counter() - started) / len(tasks)
    workers = 1 if options.executor == "serial" else (options.workers or default_workers())
    return Budget(per_run, plan.n_runs, workers)


def load_sensitivity(source: str | Path, *, max_runs: int | None = None) -> SensitivityPlan:
    """Read and validate a sensitivity file; draw its sample points.

    Refused before drawing when they would be over ``max_runs`` runs (default
    ``sim.engine.budget.MAX_RUNS``).

    Raises:
        ScenarioError: naming file, line and key path of the first problem.
    """
    path = Path(source)
    spec, ctx, text = load_document(path, SensitivitySpec)
    base_scenario = load_base(path.parent, spec.base, spec.set, ctx)
    spec = spec.model_copy(update={"inputs": resolve_ranges(
        spec.inputs, base_scenario.model_dump(mode="json"), ctx, "inputs")})
    inputs, integer = _inputs(spec, base_scenario, ctx)
    _check_settings(spec, ctx)
    _check_outputs(spec, ctx)
    comparator = _comparator(path.parent, spec, ctx)
    check_runs(_planned_runs(spec) * (2 if comparator else 1), str(path), max_runs)
    X = _sample(spec, inputs, ctx)
    _check_points(X, inputs, integer, base_scenario, ctx)
    if comparator is not None:
        _check_points(X, [i for i in inputs if not i.name.startswith(DESIGN_ONLY)], integer,
                      comparator, ctx)
    return SensitivityPlan(path=path, text=text, spec=spec,
                           base=base_scenario.model_dump(mode="json"), inputs=inputs, X=X,
                           integer=frozenset(integer),
                           comparator=comparator.model_dump(mode="json") if comparator
                           else None)


def _comparator(folder: Path, spec: SensitivitySpec, ctx: Located) -> Scenario | None:
    """The comparator scenario (a file beside the sensitivity file, or a ready name)."""
    if spec.comparator is None:
        return None
    fixed = comparator_overrides(spec.set)
    file = folder / spec.comparator
    try:
        return load_scenario(file if file.is_file() else spec.comparator, fixed)
    except ScenarioError as exc:
        raise ctx.error(f"comparator: {exc.message}", ("comparator",)) from None


def _inputs(spec: SensitivitySpec, base: Scenario, ctx: Located) -> tuple[list[Input], set]:
    if len(spec.inputs) < 2:
        raise ctx.error(f"a sensitivity analysis needs at least two inputs, got "
                        f"{len(spec.inputs)}: with one, every effect is that input's",
                        ("inputs",))
    inputs, integer = [], set()
    for name, u in spec.inputs.items():
        loc = ("inputs", name)
        if name in spec.set:
            raise ctx.error(f"'{name}' is both fixed (set) and uncertain (inputs); keep it in "
                            "one of them", loc)
        annotation = check_parameter_path(
            ctx, name, loc, numeric_for="can be uncertain inputs (compare settings of other "
            "kinds with a sweep's levers)")
        if annotation is int:
            integer.add(name)
        if u.low is None or u.high is None:
            raise ctx.error("a range needs low and high, or around_default", loc)
        if u.low >= u.high:
            raise ctx.error(f"low must be < high, got low={u.low}, high={u.high}",
                            (*loc, "low"))
        try:
            inputs.append(Input(name, u.low, u.high, u.dist, group=u.group, mode=u.mode))
        except ScenarioError as exc:
            raise ctx.error(exc.message.replace(f"sensitivity input '{name}': ", ""),
                            loc) from None
        if u.dist in BOUNDED:  # finite ranges: both ends must be allowed values
            for key in ("low", "high"):
                value = getattr(u, key)
                value = round(value) if name in integer else value
                check_value(base, {name: value}, ctx, (*loc, key),
                                    f"{key} {value} is outside the parameter's valid range: ")
    grouped = [n for n, u in spec.inputs.items() if u.group is not None]
    if grouped and spec.method in ("fast", "delta"):
        raise ctx.error(f"{spec.method} does not support groups; remove group or use sobol, "
                        "morris or pawn", ("inputs", grouped[0], "group"))
    try:
        make_problem(inputs)
    except ScenarioError as exc:
        raise ctx.error(exc.message, ("inputs",)) from None
    return inputs, integer


def _check_settings(spec: SensitivitySpec, ctx: Located) -> None:
    used = _SETTINGS_FOR[spec.method]
    for key in spec.settings.model_fields_set - used:
        users = [m for m, keys in _SETTINGS_FOR.items() if key in keys]
        raise ctx.error(f"settings.{key} is not used by {spec.method} (only by "
                        f"{', '.join(users)}); remove it", ("settings", key))
    s = spec.settings
    if spec.method == "morris":
        if s.num_levels is not None and s.num_levels % 2:
            raise ctx.error(f"Morris num_levels must be even, got {s.num_levels}",
                            ("settings", "num_levels"))
        if s.optimal_trajectories is not None and s.optimal_trajectories > s.n:
            raise ctx.error(f"optimal_trajectories ({s.optimal_trajectories}) must not exceed "
                            f"n ({s.n}), the trajectories it chooses from",
                            ("settings", "optimal_trajectories"))


def _check_outputs(spec: SensitivitySpec, ctx: Located) -> None:
    known = summary_keys()
    names = [(spec.outputs.primary, ("outputs", "primary"))]
    names += [(o, ("outputs", "also", str(i))) for i, o in enumerate(spec.outputs.also)]
    for name, loc in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ctx.error(f"'{name}' is not a summary output of a run{hint} (outputs: "
                            f"{', '.join(DEFAULT_OUTPUTS)}, ...; see sim/runner.py)", loc)


def _planned_runs(spec: SensitivitySpec) -> int:
    """Runs the file asks for, from its settings alone (before any point is drawn)."""
    s, d = spec.settings, len(spec.inputs)
    rows = {"sobol": s.n * (2 * d + 2 if s.second_order else d + 2),
            "morris": (s.optimal_trajectories or s.n) * (d + 1),
            "fast": s.n * d}.get(spec.method, s.n)
    return rows * spec.replications


def _sample(spec: SensitivitySpec, inputs: list[Input], ctx: Located) -> pd.DataFrame:
    method = spec.method
    opts = {k: v for k, v in _method_options(spec).items() if k != "S"}
    try:
        return sample(inputs, SAMPLER_FOR[method], spec.settings.n, seed=spec.seed, **opts)
    except ScenarioError as exc:
        msg = exc.message
        loc: tuple[str, ...] = ("settings", "n")
        for key in ("num_levels", "optimal_trajectories"):
            if key in msg:
                loc = ("settings", key)
        bad_dist = [i.name for i in inputs if i.name in msg and i.dist in ("normal", "lognormal")]
        if bad_dist:
            loc = ("inputs", bad_dist[0], "dist")
        raise ctx.error(msg, loc) from None


def _method_options(spec: SensitivitySpec) -> dict[str, Any]:
    """Sampler and analyser options of the file's method, defaults filled in."""
    s, method = spec.settings, spec.method
    if method == "sobol":
        return {"calc_second_order": bool(s.second_order)}
    if method == "morris":
        opts: dict[str, Any] = {"num_levels": s.num_levels or 4}
        if s.optimal_trajectories is not None:
            opts["optimal_trajectories"] = s.optimal_trajectories
        return opts
    if method == "fast":
        return {"M": s.M or 4}
    if method == "pawn":
        return {"S": s.slices or 10}
    return {}


def _check_points(X: pd.DataFrame, inputs: list[Input], integer: set[str], base: Scenario,
                  ctx: Located) -> None:
    """Every sample point (as run: integers rounded) must be a valid scenario."""
    names = [i.name for i in inputs]
    for p, row in enumerate(X[names].itertuples(index=False, name=None)):
        if p >= MAX_CHECKED_POINTS:
            return
        values = {n: (round(float(v)) if n in integer else float(v))
                  for n, v in zip(names, row, strict=True)}
        try:
            base.with_overrides(values)
        except ScenarioError as exc:
            culprit = next((n for n in names if exc.path and exc.path.startswith(n)), None)
            loc = ("inputs", culprit) if culprit else ("inputs",)
            hint = (" (a normal or lognormal input reaches beyond its 95% interval: narrow "
                    "it, or use uniform or triangular)" if culprit and any(
                        i.name == culprit and i.dist in ("normal", "lognormal") for i in inputs)
                    else "")
            raise ctx.error(f"sample point {p} ({short(values)}) is invalid: "
                            f"{exc.message}{hint}", loc) from None


# --------------------------------------------------------------------------- running


def run_sensitivity(plan: SensitivityPlan | str | Path, out_dir: str | Path,
                    options: RunOptions | None = None) -> RunReport:
    """Run every sample point x replication into ``out_dir`` (a results store).

    Args:
        plan: a loaded plan or a sensitivity file.
        out_dir: results directory (see :mod:`sim.engine.store`).
        options: how the runs are executed (see :class:`sim.engine.options.RunOptions`).

    Returns:
        The run report; analyse the store with :func:`analyze_store` once every run is ok.

    Raises:
        ScenarioError: an invalid file, an existing store (without ``resume``), or a resume
            whose analysis changed.
    """
    plan = plan if isinstance(plan, SensitivityPlan) else load_sensitivity(plan)
    options = options or RunOptions()
    store = ResultsStore(out_dir)
    if (options.resume or options.retry_failed) and store.exists():
        old = store.read_manifest()
        if old.get("kind") != "sensitivity":
            raise ScenarioError(f"cannot resume {store.path}: it holds a {old.get('kind')!r} "
                                "store, not a sensitivity analysis; choose another --out")
        if old.get("sensitivity_sha256") != plan.sha256():
            changed = changed_keys(old.get("resolved", {}), plan.resolved())
            raise ScenarioError(
                f"cannot resume {store.path}: the sensitivity analysis changed since it was "
                f"created ({old.get('created_utc')}, from {old.get('sensitivity_file')}); "
                f"changed: {', '.join(changed) or 'content'}. Restore the file (the original "
                f"is in {store.manifest_path}, key sensitivity_text) or start a new --out"
            )
    started = time.perf_counter()
    report: RunReport | None = None
    interrupted = False
    try:
        report = run_tasks(plan.tasks(), out_dir, options, manifest=plan.manifest())
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if report is not None or interrupted:
            _log_session(store, time.perf_counter() - started, report, options)
    return report


def _log_session(store: ResultsStore, wall: float, report: RunReport | None,
                 options: RunOptions) -> None:
    path = store.path / LOG_FILE
    log = json.loads(path.read_text()) if path.is_file() else {"sessions": []}
    log["sessions"].append({
        "wall_time_s": round(wall, 3), "executor": options.executor,
        "workers": options.workers, "scheduler": options.scheduler,
        "ran": report.ran if report else None,
        "skipped": report.skipped if report else None,
        "failed": report.failed if report else None, "interrupted": report is None,
    })
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(log, indent=2))
    tmp.replace(path)


def run_wall_time(out_dir: str | Path) -> float | None:
    """Wall time of every session that ran the store's runs (None when not logged)."""
    path = Path(out_dir) / LOG_FILE
    if not path.is_file():
        return None
    sessions = json.loads(path.read_text()).get("sessions", [])
    return round(sum(s.get("wall_time_s") or 0.0 for s in sessions), 1) if sessions else None


# --------------------------------------------------------------------------- analysis


def analyze_store(
    path: str | Path,
    *,
    method: str | None = None,
    inputs: Sequence[str] | None = None,
    outputs: Sequence[str] | None = None,
    select: Mapping[str, Any] | None = None,
    num_resamples: int | None = None,
) -> SensitivityResult:
    """Analyse a results store: a sensitivity analysis, or any Latin-hypercube sweep.

    A sensitivity store is analysed exactly as when it was run (same design, options and
    seeds), so the numbers are identical. Any store whose design is a Latin hypercube (a
    sweep with ``design: {method: lhs}``, or a delta/PAWN analysis) can be analysed by the
    given-data methods delta and PAWN.

    Args:
        path: the results directory.
        method: analysis method (default: the store's own; ``delta`` or ``pawn`` for
            Latin-hypercube stores).
        inputs: inputs to analyse (given-data methods only; default every uncertain input).
        outputs: outputs to analyse, the primary first (default: the store's own, or
            :data:`DEFAULT_OUTPUTS` present in the store).
        select: keep only runs whose columns have these values, e.g. ``{"design":
            "hybrid_kickoff"}``: a sweep with several lever settings is analysed one setting
            at a time.
        num_resamples: bootstrap resamples (default: the store's own, else 1000).

    Returns:
        The :class:`SensitivityResult`; ``meta`` also holds ``title`` and ``primary_output``.

    Raises:
        ScenarioError: runs failed or missing, a method the store's design cannot support,
            unknown inputs, outputs or columns (with a did-you-mean).
    """
    if num_resamples is not None and not 2 <= num_resamples <= MAX_RESAMPLES:
        raise ScenarioError(f"num_resamples must be between 2 and {MAX_RESAMPLES:,}, got "
                            f"{num_resamples:,}")  # 0 is an error, not "the default"
    results = load_results(path)
    manifest = results.manifest
    if manifest.get("kind") == "sensitivity":
        stored = manifest["analysis"]
        if method in (None, stored["method"]) and not inputs and not select:
            return _analyze_sensitivity_store(results, stored, outputs, num_resamples)
    return _analyze_given_data(results, method, inputs, outputs, select, num_resamples)


def _analyze_sensitivity_store(results: Any, stored: dict[str, Any],
                               outputs: Sequence[str] | None,
                               num_resamples: int | None) -> SensitivityResult:
    inputs = [Input(**i) for i in stored["inputs"]]
    names = [i.name for i in inputs]
    method = stored["method"]
    comparator = stored.get("comparator")
    arms = 2 if comparator else 1
    runs = _ok_runs(results, expected=stored["n_points"] * stored["replications"] * arms)
    if comparator:  # "qalys_per_patient_diff" and "qalys_per_patient" name the same output
        outputs = [o.removesuffix(DIFF_SUFFIX) for o in outputs or []]
    outs = _pick_outputs(results, outputs or stored["outputs"], default=False)
    points = runs.groupby("point", sort=True)
    X = points[names].first()
    if len(X) != stored["n_points"]:
        raise ScenarioError(f"{results.path} has runs for {len(X)} of {stored['n_points']} "
                            "sample points; continue it with --resume")
    X.index = pd.RangeIndex(len(X), name="point")
    X.attrs = {**stored["design"], "names": names}
    Y_reps = (paired_differences(runs, outs) if comparator
              else runs[["point", "replication", *outs]].reset_index(drop=True))
    outs = [c for c in Y_reps.columns if c not in ("point", "replication")]
    n_base = int(stored["design"].get("n", stored["n"]))
    fractions = (0.25, 0.5, 1.0) if n_base >= MIN_CONVERGENCE_N.get(method, math.inf) else None
    result = analyze_replications(
        inputs, method, X, Y_reps, seed=int(stored["seed"]),
        num_resamples=int(stored["num_resamples"] if num_resamples is None else num_resamples),
        conf_level=float(stored["conf_level"]), fractions=fractions,
        tol=float(stored["tolerance"]),
        common_random_numbers=stored["streams"] == "common", **stored["options"],
    )
    result.meta.update(title=stored["title"], primary_output=outs[0],
                       wall_time_s=run_wall_time(results.path), streams=stored["streams"],
                       store=str(results.path), model_runs=len(runs), comparator=comparator)
    return result


def paired_differences(runs: pd.DataFrame, outputs: Sequence[str]) -> pd.DataFrame:
    """Design minus comparator per sample point and replication, as ``<output>_diff``.

    ``runs`` holds both arms (column ``arm``: 0 the design, 1 the comparator, same seed).
    """
    keys = ["point", "replication"]
    arm = {a: runs[runs["arm"] == a].set_index(keys)[list(outputs)].sort_index()
           for a in (0, 1)}
    if not arm[0].index.equals(arm[1].index):
        raise ScenarioError("the design and comparator runs do not pair up (a run of one arm "
                            "is missing); continue the store with --resume")
    diff = arm[0] - arm[1]
    diff.columns = [f"{c}{DIFF_SUFFIX}" for c in diff.columns]
    return diff.reset_index()


def _analyze_given_data(results: Any, method: str | None, inputs: Sequence[str] | None,
                        outputs: Sequence[str] | None, select: Mapping[str, Any] | None,
                        num_resamples: int | None) -> SensitivityResult:
    manifest = results.manifest
    kind = manifest.get("kind", "sweep")
    if results.manifest.get("kind") == "sensitivity" and results.manifest["analysis"].get(
            "comparator"):
        raise ScenarioError(f"{results.path} holds paired runs against a comparator: analyse "
                            "it as it was run (without --method, --inputs or --select)")
    _check_given_data_method(results, method)
    runs = _select(results.runs, select or {}, results.path)
    names = _given_inputs(results, inputs)
    _one_lever_setting(runs, results, select)
    runs = _ok_runs(results, runs=runs)
    outs = _pick_outputs(results, outputs, default=outputs is None)
    X = runs.groupby("point", sort=True)[names].first().astype(float)
    X.index = pd.RangeIndex(len(X), name="point")
    renumber = dict(zip(sorted(runs["point"].unique()), range(len(X)), strict=True))
    Y_reps = runs[["point", "replication", *outs]].copy()
    Y_reps["point"] = Y_reps["point"].map(renumber)
    if "replication" not in runs.columns:
        Y_reps["replication"] = Y_reps.groupby("point").cumcount()
    spec_inputs = _stored_ranges(manifest)
    input_list = [_range_input(n, spec_inputs.get(n), X[n]) for n in names]
    X.attrs = {"sampler": "lhs", "n": len(X), "names": names}
    fractions = (0.25, 0.5, 1.0) if len(X) >= MIN_CONVERGENCE_N[method] else None
    opts = {"S": 10} if method == "pawn" else {}
    if kind == "sensitivity" and method == "pawn":
        opts = {"S": manifest["analysis"]["options"].get("S", 10)}
    stored_resamples = manifest.get("analysis", {}).get("num_resamples", 1000)
    try:
        crn = kind == "sensitivity" and manifest["analysis"].get("streams") == "common"
        result = analyze_replications(
            input_list, method, X, Y_reps, seed=int(manifest.get("seed", 0)),
            num_resamples=int(stored_resamples if num_resamples is None
                              else num_resamples), fractions=fractions,
            common_random_numbers=crn, **opts)
    except (ValueError, ZeroDivisionError, IndexError) as exc:  # SALib on too few points
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(f"{method} failed on {len(X)} points ({type(exc).__name__}: "
                            f"{exc}); given-data methods need a few hundred points") from None
    _check_supported(result, method, outs, len(X))
    where = ", ".join(f"{k}={v}" for k, v in (select or {}).items())
    name = manifest.get("name") or Path(results.path).name
    result.meta.update(
        title=f"{name}{f' ({where})' if where else ''}: what drives {outs[0]} ({method}, "
        "given data)",
        primary_output=outs[0], wall_time_s=None, store=str(results.path),
        selected=dict(select or {}), given_data=True)
    return result


def _check_given_data_method(results: Any, method: str | None) -> None:
    """Only delta and PAWN analyse an existing store, and only a Latin-hypercube one."""
    manifest = results.manifest
    kind = manifest.get("kind", "sweep")
    if method is None:
        raise ScenarioError(f"{results.path} is a {kind} store: name a given-data method "
                            "with --method delta or --method pawn")
    if method not in ("delta", "pawn"):
        hint = (f" (this store was run for {manifest['analysis']['method']}: analyse it "
                "without --method/--inputs/--select)" if kind == "sensitivity" else "")
        raise ScenarioError(
            f"only the given-data methods delta and pawn analyse an existing store with "
            f"another method or a subset; {method!r} needs its own sample design: write a "
            f"sensitivity file (scenarios/sensitivity/){hint}")
    design = _design_method(manifest)
    if design != "lhs":
        raise ScenarioError(
            f"{method} needs a random sample of the inputs (a Latin hypercube); the design of "
            f"{results.path} is {design!r}. Run a sweep with design: {{method: lhs, n: ...}} "
            "(a few hundred points), or a sensitivity file with method delta or pawn")


def _given_inputs(results: Any, inputs: Sequence[str] | None) -> list[str]:
    """The store's uncertain inputs to analyse (all by default), at least two, each known."""
    params = results.parameter_columns
    names = list(inputs) if inputs else params
    for name in names:
        if name not in params:
            close = difflib.get_close_matches(name, params, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ScenarioError(f"'{name}' is not an uncertain input of {results.path}{hint} "
                                f"(inputs: {', '.join(params)})")
    if len(names) < 2:
        raise ScenarioError(f"a sensitivity analysis needs at least two inputs, got "
                            f"{', '.join(names) or 'none'}")
    return names


def _check_supported(result: SensitivityResult, method: str, outputs: list[str],
                     n_points: int) -> None:
    """Refuse an analysis whose ranking index is NaN for every input of an output.

    SALib's delta and PAWN return NaN (after a warning) when the sample is too small for
    their bins or slices; such a result cannot rank anything. Partly NaN results are kept
    and listed in ``result.meta["nan_indices"]`` (never reported as drivers).
    """
    idx = result.indices
    rank = idx[(idx["index"] == RANKING_INDEX[method]) & idx["output"].isin(outputs)]
    missing = rank[rank["value"].isna()]
    empty = [o for o, rows in rank.groupby("output", sort=False) if rows["value"].isna().all()]
    if empty:
        raise ScenarioError(
            f"the data cannot support {method}: every {RANKING_INDEX[method]} index of "
            f"{', '.join(empty)} is NaN on {n_points} sample points (SALib's {method} needs "
            "enough points in each of its bins or slices). Given-data methods need a few "
            "hundred points: rerun the sweep with a larger design n")
    result.meta["nan_indices"] = [f"{r.output}: {r.input}" for r in missing.itertuples()]


def _design_method(manifest: dict[str, Any]) -> str | None:
    if manifest.get("kind") == "sensitivity":
        return manifest["analysis"]["design"].get("sampler")
    design = (manifest.get("resolved", {}).get("spec", {}) or {}).get("design") or {}
    return design.get("method")


def _stored_ranges(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if manifest.get("kind") == "sensitivity":
        return {i["name"]: i for i in manifest["analysis"]["inputs"]}
    return dict((manifest.get("resolved", {}).get("spec", {}) or {}).get("uncertain") or {})


def _range_input(name: str, stored: dict[str, Any] | None, values: pd.Series) -> Input:
    """The input's declared range (else the observed one): delta/PAWN only label by it."""
    if stored and stored.get("low") is not None and stored.get("high") is not None:
        return Input(name, float(stored["low"]), float(stored["high"]),
                     stored_dist(stored), mode=stored.get("mode"))
    low, high = float(values.min()), float(values.max())
    return Input(name, low, high if high > low else low + 1.0)


def _select(runs: pd.DataFrame, select: Mapping[str, Any], where: Path) -> pd.DataFrame:
    for column, value in select.items():
        if column not in runs.columns:
            cols = [str(c) for c in runs.columns]
            close = difflib.get_close_matches(column, cols, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ScenarioError(f"--select: {where} has no column '{column}'{hint}")
        col = runs[column]
        if pd.api.types.is_numeric_dtype(col) and not isinstance(value, str | bool):
            keep = col == value
        else:
            keep = col.astype(str) == str(value)
        if not keep.any():
            seen = ", ".join(map(str, col.drop_duplicates().head(10)))
            raise ScenarioError(f"--select: no run has {column}={value!r} (values: {seen})")
        runs = runs[keep]
    return runs


def _one_lever_setting(runs: pd.DataFrame, results: Any, select: Mapping[str, Any] | None
                       ) -> None:
    levers = [c for c in results.lever_columns if c in runs.columns]
    if "lever" not in runs.columns or runs["lever"].nunique() <= 1:
        return
    settings = runs.drop_duplicates("lever")[levers or ["lever"]]
    shown = "; ".join(", ".join(f"{k}={v}" for k, v in row.items())
                      for row in settings.head(6).to_dict("records"))
    first = settings.iloc[0].to_dict()
    example = " ".join(f"--select {k}={v}" for k, v in first.items())
    raise ScenarioError(
        f"{results.path} holds {len(settings)} lever settings ({shown}); a sensitivity "
        f"analysis varies the uncertain inputs at one setting: choose one, e.g. {example}")


def _ok_runs(results: Any, *, runs: pd.DataFrame | None = None,
             expected: int | None = None) -> pd.DataFrame:
    runs = results.runs if runs is None else runs
    bad = runs[runs["status"] != "ok"]
    if len(bad):
        first = str(bad["error"].iloc[0]).splitlines()[0]
        raise ScenarioError(
            f"{len(bad)} of {len(runs)} runs in {results.path} failed (first: {first}); "
            "the design breaks if points are dropped. Fix the cause and rerun them with "
            "--retry-failed")
    if expected is not None and len(runs) < expected:
        raise ScenarioError(f"{results.path} holds {len(runs)} of {expected} runs; continue "
                            "it with --resume")
    return runs.sort_values("run_id", kind="stable")


def _pick_outputs(results: Any, outputs: Sequence[str] | None, *, default: bool) -> list[str]:
    have = list(results.output_columns)
    if default:
        outs = [o for o in DEFAULT_OUTPUTS if o in have]
        if not outs:
            raise ScenarioError(f"{results.path} has none of the default outputs "
                                f"({', '.join(DEFAULT_OUTPUTS)}); name them with --outputs")
        return outs
    outs = list(dict.fromkeys(outputs or []))
    for name in outs:
        if name not in have:
            close = difflib.get_close_matches(name, have, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ScenarioError(f"'{name}' is not an output of {results.path}{hint}")
    return outs


# --------------------------------------------------------------------------- console


def describe_result(result: SensitivityResult, primary: str) -> str:
    """A few lines for the terminal: top drivers with intervals, noise, convergence."""
    idx = result.indices
    key = RANKING_INDEX[result.method]
    rows = idx[(idx["output"] == primary) & (idx["index"] == key)]
    rows = rows.sort_values("value", ascending=False, kind="stable")
    pct = round(100 * result.conf_level)
    lines = [f"Top inputs for {primary} ({result.method}, {key}, {pct}% intervals):"]
    for _, r in rows.head(3).iterrows():
        parts = []
        for index in ("S1", "ST") if result.method in ("sobol", "fast") else (key,):
            hit = idx[(idx["output"] == primary) & (idx["input"] == r["input"])
                      & (idx["index"] == index)]
            if not hit.empty:
                h = hit.iloc[0]
                parts.append(f"{index} {h['value']:.3g} [{h['conf_low']:.3g}, "
                             f"{h['conf_high']:.3g}]")
        flag = "  (cannot be told apart from zero)" if r["flagged_inert"] else ""
        lines.append(f"  {r['input']}: {'; '.join(parts)}{flag}")
    noise = result.noise.set_index("output")
    if primary in noise.index and math.isfinite(noise.loc[primary, "noise_share_of_mean"]):
        lines.append(f"Replication noise: {_pct(noise.loc[primary, 'noise_share'])} of the "
                     "variance of single runs, "
                     f"{_pct(noise.loc[primary, 'noise_share_of_mean'])} of the averaged "
                     "output's (what can reach the indices).")
    if result.convergence is not None:
        ok = converged(result.convergence, result.tol)
        prim = ok[ok.index.get_level_values("output") == primary]
        if bool(prim.all()):
            lines.append(f"Converged: every index moved <= {result.tol:g} between N/2 and N.")
        else:
            rec = recommend_n(result.convergence, result.tol, output=primary)
            lines.append(f"Not converged ({int((~prim).sum())} inputs moved > {result.tol:g} "
                         f"between N/2 and N); recommended N = {rec}.")
    return "\n".join(lines)


def _pct(share: float) -> str:
    """A share as a percentage with two significant digits (0.019%, 4.2%, 87%)."""
    return f"{100 * share:.2g}%" if math.isfinite(share) else "n/a"


def parse_select(items: Sequence[str]) -> dict[str, Any]:
    """``["design=hybrid_kickoff"]`` -> ``{"design": "hybrid_kickoff"}`` (values as YAML)."""
    try:
        return parse_set(list(items))
    except ScenarioError as exc:
        raise ScenarioError(str(exc).replace("--set", "--select", 1)) from None

