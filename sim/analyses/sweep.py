"""Sweep files: many runs from one YAML (levers x uncertain inputs x replications).

A sweep file (``scenarios/sweeps/*.yaml``, see docs/sweeps.md)::

    name: hybrid_lhs
    base: ../base.yaml                  # scenario file, relative to this file
    set: {population.size: 500}         # fixed overrides for every run (optional)
    levers:                             # design choices a planner controls
      design: [../designs/hybrid_kickoff.yaml, ../designs/hybrid_monthly.yaml]
      program.im.posts_per_week: [0.7, 1.4]      # (mapping: every combination;
                                                 #  a list of mappings: hand-picked rows)
    uncertain:                          # inputs nobody controls, with ranges
      behaviour.support_effect_logit: {low: 1.5, high: 3.5}
      network.in_person_gain: {low: 0.2, high: 0.5, dist: triangular, mode: 0.35}
    design: {method: lhs, n: 20}        # grid | list | lhs | sobol | morris
    combine: full_factorial             # or paired (lever setting i with point i)
    replications: 5
    seed: 20240601
    outputs: {timeseries_every_days: 30}   # summary always; time series off by default

A ``design`` lever takes program design files: each contributes its ``program`` section
(the levers), the rest comes from ``base``. Everything is validated before anything runs:
unknown keys (with a did-you-mean), parameter paths that are not in the scenario schema,
ranges, and every lever value and design point applied to the base scenario. Errors name
the file, line and key path.

Run seeds: ``derive_seed(seed, point, replication)``: replication r of every lever setting
at a design point shares its seed, so lever settings are compared on common random numbers
(see :func:`sim.analyses.paired.paired_differences`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from sim.analyses import designs
from sim.analyses.basefile import changed_keys, check_value, load_base
from sim.analyses.sensitivity import Input
from sim.core.rng import derive_seed
from sim.engine.budget import check_runs
from sim.engine.options import RunOptions
from sim.engine.store import ResultsStore
from sim.engine.tasks import RunReport, Task, run_tasks
from sim.params.errors import ScenarioError, short
from sim.params.located import Located, Strict, load_document
from sim.params.scenario import Scenario, check_parameter_path, load_scenario
from sim.uncertainty import BOUNDED, RangeSpec, resolve_ranges

_RANGE = "can take a range (give a grid design with values instead)"

MAX_CHECKED_COMBINATIONS = 20_000
"""Lever x point combinations validated one by one before running (beyond: marginals only)."""


class UncertainSpec(RangeSpec):
    """One uncertain input: a range (sampled designs) or values (grid)."""

    values: list[Any] | None = Field(None, description="grid: the values to try")
    levels: int | None = Field(None, ge=2, le=10_000,
                               description="grid: evenly spaced values from low to high")


class DesignSpec(Strict):
    """How the uncertain inputs are sampled into design points."""

    method: Literal["grid", "list", "lhs", "sobol", "morris"] = Field(
        description="grid (every combination), list (rows), lhs, sobol (Saltelli), morris")
    n: int | None = Field(None, ge=1, le=10_000_000,
                          description="lhs: points; sobol: base samples N (a power of 2); "
                          "morris: trajectories")
    rows: list[dict[str, Any]] | None = Field(None, description="list: the design points")
    second_order: bool = Field(False, description="sobol: add the rows S2 indices need")
    num_levels: int = Field(4, ge=2, le=1000, description="morris: grid levels (even)")


class OutputsSpec(Strict):
    """What each run keeps besides its summary."""

    timeseries_every_days: int | None = Field(
        None, ge=1, description="store the time series recorded every this many days "
        "(default: no time series)")


class SweepSpec(Strict):
    """The whole sweep file."""

    name: str = Field("", description="sweep name")
    description: str = Field("", description="free text")
    base: str = Field(description="base scenario file, relative to the sweep file")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="fixed overrides for every run, by dotted path")
    levers: dict[str, Any] | list[Any] = Field(
        default_factory=dict, description="design files and/or values of dotted parameters")
    uncertain: dict[str, UncertainSpec] = Field(default_factory=dict,
                                                description="uncertain inputs by dotted path")
    design: DesignSpec | None = Field(None, description="how uncertain inputs are sampled")
    combine: Literal["full_factorial", "paired"] = Field(
        "full_factorial", description="every lever setting at every point, or zipped")
    replications: int = Field(1, ge=1, le=100_000, description="runs per setting and point")
    seed: int = Field(ge=0, le=2**63 - 1, description="root seed of every run seed")
    outputs: OutputsSpec = Field(default_factory=OutputsSpec, description="kept outputs")


@dataclass(frozen=True)
class LeverSetting:
    """One combination of lever values: its table columns and its scenario."""

    columns: dict[str, Any]
    overrides: dict[str, Any]
    scenario: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Sweep:
    """A validated, resolved sweep: lever settings x design points x replications.

    Attributes:
        path: the sweep file (None for a dict).
        text: the file as given.
        spec: the parsed file.
        base: the resolved base scenario (with ``set`` applied), as a dict.
        levers: the lever settings, in order (index = ``lever`` column).
        points: design points, one column per uncertain parameter (index = ``point``).
    """

    path: Path | None
    text: str
    spec: SweepSpec
    base: dict[str, Any] = field(repr=False)
    levers: list[LeverSetting] = field(repr=False)
    points: pd.DataFrame = field(repr=False)

    @property
    def lever_columns(self) -> list[str]:
        """Names of the lever columns of the runs table."""
        return list(self.levers[0].columns)

    @property
    def parameter_columns(self) -> list[str]:
        """Names of the uncertain parameter columns of the runs table."""
        return [str(c) for c in self.points.columns]

    @property
    def n_runs(self) -> int:
        """Runs in the sweep."""
        combos = (len(self.points) if self.spec.combine == "paired"
                  else len(self.levers) * len(self.points))
        return combos * self.spec.replications

    def tasks(self) -> list[Task]:
        """The runs: for each point, each replication, each lever setting (run_id in order)."""
        spec = self.spec
        overrides = [{k: _plain(v) for k, v in row.items()}
                     for row in self.points.to_dict("records")]
        out: list[Task] = []
        for p in range(len(self.points)):
            settings = [p] if spec.combine == "paired" else range(len(self.levers))
            for r in range(spec.replications):
                seed = derive_seed(spec.seed, p, r)
                for lev in settings:
                    setting = self.levers[lev]
                    meta = {"point": p, "lever": lev, **setting.columns, "replication": r,
                            **overrides[p]}
                    out.append(Task(run_id=len(out), scenario=setting.scenario, seed=seed,
                                    overrides=overrides[p], meta=meta))
        return out

    def resolved(self) -> dict[str, Any]:
        """Everything the runs depend on (hashed to detect a changed sweep on resume)."""
        return {
            "spec": self.spec.model_dump(mode="json"),
            "base": self.base,
            "levers": [{"columns": s.columns, "scenario": s.scenario} for s in self.levers],
        }

    def sha256(self) -> str:
        """Hash of :meth:`resolved` (canonical JSON)."""
        text = json.dumps(self.resolved(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def manifest(self) -> dict[str, Any]:
        """Manifest entries of this sweep's results store."""
        return {
            "kind": "sweep",
            "name": self.spec.name,
            "sweep_file": str(self.path) if self.path else None,
            "sweep_text": self.text,
            "sweep_sha256": self.sha256(),
            "seed": self.spec.seed,
            "resolved": self.resolved(),
            "points": self.points.reset_index().to_dict("records"),
            "columns": {"levers": self.lever_columns, "parameters": self.parameter_columns,
                        "metadata": ["point", "lever", *self.lever_columns, "replication",
                                     *self.parameter_columns]},
        }

    def describe(self) -> str:
        """A short plan: lever settings x points x replications = runs."""
        spec = self.spec
        how = "paired with" if spec.combine == "paired" else "x"
        method = spec.design.method if spec.design else "base values"
        return (f"{len(self.levers)} lever settings {how} {len(self.points)} design points "
                f"({method}) x {spec.replications} replications = {self.n_runs:,} runs")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


# --------------------------------------------------------------------------- loading


def load_sweep(source: str | Path, *, max_runs: int | None = None) -> Sweep:
    """Read and validate a sweep file; resolve its base, levers and design points.

    Refused before building them when over ``max_runs`` runs (default
    ``sim.engine.budget.MAX_RUNS``).

    Raises:
        ScenarioError: naming file, line and key path of the first problem.
    """
    path = Path(source)
    spec, ctx, text = load_document(path, SweepSpec)
    extra = ({"run.record_every_days": spec.outputs.timeseries_every_days}
             if spec.outputs.timeseries_every_days else None)
    base_scenario = load_base(path.parent, spec.base, spec.set, ctx, extra)
    base = base_scenario.model_dump(mode="json")
    spec = spec.model_copy(update={"uncertain": resolve_ranges(spec.uncertain, base, ctx,
                                                               "uncertain")})
    check_runs(_planned_runs(spec), str(path), max_runs)

    levers = _levers(spec, base_scenario, ctx)
    points, integer = _points(spec, ctx)
    _check_points(points, integer, spec, base_scenario, ctx)
    if spec.combine == "paired" and len(levers) != len(points):
        raise ctx.error(f"combine: paired needs as many lever settings as design points, got "
                        f"{len(levers)} lever settings and {len(points)} points; use "
                        "full_factorial or change the design's n", ("combine",))
    overlap = set(points.columns) & {k for s in levers for k in s.overrides}
    if overlap:
        raise ctx.error(f"{', '.join(sorted(overlap))} is both a lever and uncertain; "
                        "keep it in one of them", ("uncertain",))
    _check_combinations(levers, points, spec, ctx)
    return Sweep(path=path, text=text, spec=spec, base=base, levers=levers, points=points)


def _planned_runs(spec: SweepSpec) -> int:
    """Runs the file asks for, from its spec alone (before levers or points are built)."""
    raw, design = spec.levers, spec.design
    levers = (math.prod(len(v) if isinstance(v, list) else 1 for v in raw.values())
              if isinstance(raw, dict) else len(raw))
    if design is None:
        points = 1
    elif design.method == "list":
        points = len(design.rows or ())
    elif design.method == "grid":
        points = math.prod(len(u.values) if u.values is not None else u.levels or 1
                           for u in spec.uncertain.values())
    else:
        points = designs.expected_rows(design.method, len(spec.uncertain), design.n or 1,
                                       second_order=design.second_order)
    levers, points = max(levers, 1), max(points, 1)
    combos = max(levers, points) if spec.combine == "paired" else levers * points
    return combos * spec.replications


# --------------------------------------------------------------------------- levers


def _levers(spec: SweepSpec, base: Scenario, ctx: Located) -> list[LeverSetting]:
    """Lever settings: a mapping of lists (every combination) or a list of rows."""
    raw = spec.levers
    rows: list[dict[str, tuple[Any, tuple[str, ...]]]]  # key -> (value, where it is written)
    if isinstance(raw, dict):
        for key, values in raw.items():
            if not isinstance(values, list) or not values:
                raise ctx.error(f"must be a non-empty list of values, got {short(values)}",
                                ("levers", key))
        keys = list(raw)
        rows = [{k: (raw[k][i], ("levers", k, str(i))) for k, i in zip(keys, combo,
                                                                         strict=True)}
                for combo in itertools.product(*(range(len(raw[k])) for k in keys))]
    else:
        for i, row in enumerate(raw):
            if not isinstance(row, dict) or not row:
                raise ctx.error(f"each lever row must be a mapping of lever values, got "
                                f"{short(row)}", ("levers", str(i)))
            if set(row) != set(raw[0]):
                raise ctx.error("every lever row must set the same levers as the first "
                                f"({', '.join(raw[0])})", ("levers", str(i)))
        rows = [{k: (v, ("levers", str(i), k)) for k, v in row.items()}
                for i, row in enumerate(raw)]
    rows = rows or [{}]
    for key in rows[0]:
        if key != "design":
            check_parameter_path(ctx, key, ("levers", key))
    programs: dict[str, tuple[str, dict[str, Any]]] = {}
    checked: set[tuple[str, ...]] = set()
    out = []
    for row in rows:
        columns: dict[str, Any] = {}
        overrides: dict[str, Any] = {}
        if "design" in row:  # the whole program first, then single parameters on top
            value, loc = row["design"]
            columns["design"], overrides["program"] = _design_program(value, loc, programs,
                                                                      ctx)
        for key, (value, loc) in row.items():
            if key == "design":
                continue
            columns[key] = overrides[key] = value
            if loc not in checked:
                check_value(base, {key: value}, ctx, loc)
                checked.add(loc)
        try:
            scenario = base.with_overrides(overrides).model_dump(mode="json")
        except ScenarioError as exc:
            raise ctx.error(f"lever setting {short(columns)} is invalid: {exc.message}",
                            ("levers",)) from None
        out.append(LeverSetting(columns, overrides, scenario))
    return out


def _design_program(value: Any, loc: tuple[str, ...],
                    cache: dict[str, tuple[str, dict[str, Any]]],
                    ctx: Located) -> tuple[str, dict[str, Any]]:
    """The program section (and its name) of a design file named by a ``design`` lever."""
    if not isinstance(value, str):
        raise ctx.error(f"a design lever value is a scenario file path, got {short(value)}",
                        loc)
    file = Path(ctx.label).parent / value
    key = str(file.resolve())
    if key not in cache:
        if not file.is_file():
            raise ctx.error(f"design file not found: {file}", loc)
        try:
            scenario = load_scenario(file)
        except ScenarioError as exc:
            raise ScenarioError(f"design file {value} (named at {ctx.label}, line "
                                f"{ctx.line(loc)}) is invalid: {exc.message}",
                                file=exc.file, line=exc.line, path=exc.path) from None
        program = scenario.program.model_dump(mode="json")
        taken = {name: path for path, (name, _) in cache.items()}
        if program["name"] in taken:
            raise ctx.error(f"design files {taken[program['name']]} and {file} share the "
                            f"program name '{program['name']}'; give each a distinct "
                            "program.name", loc)
        cache[key] = (program["name"], program)
    return cache[key]


# --------------------------------------------------------------------------- design points


def _points(spec: SweepSpec, ctx: Located) -> tuple[pd.DataFrame, set[str]]:
    """Design points of the uncertain inputs, and which of them are integers."""
    design, uncertain = spec.design, spec.uncertain
    integer = set()
    numeric = bool(design) and design.method in ("lhs", "sobol", "morris")
    for name, u in uncertain.items():
        loc = ("uncertain", name)
        annotation = check_parameter_path(
            ctx, name, loc, numeric_for=_RANGE if numeric or u.values is None else None)
        if annotation is int:
            integer.add(name)
    if design is None:
        if uncertain:
            raise ctx.error("uncertain inputs need a design, e.g. design: {method: lhs, "
                            "n: 20}", ("uncertain",))
        return designs.grid_design({}), integer
    method = design.method
    if method == "list":
        return _list_points(spec, design, ctx, integer), integer
    if not uncertain:
        raise ctx.error(f"a {method} design needs uncertain inputs", ("design", "method"))
    if design.rows is not None:
        raise ctx.error("design.rows is only used by a list design", ("design", "rows"))
    if method == "grid":
        return _grid_points(spec, design, ctx, integer), integer
    return _sampled_points(spec, design, ctx, integer), integer


def _list_points(spec: SweepSpec, design: DesignSpec, ctx: Located,
                 integer: set[str]) -> pd.DataFrame:
    """A list design's rows (adds their integer parameters to ``integer``)."""
    if spec.uncertain:
        raise ctx.error("a list design takes its values from design.rows; remove the "
                        "uncertain section (or use grid/lhs/sobol/morris)", ("uncertain",))
    if not design.rows:
        raise ctx.error("a list design needs rows: a list of mappings of parameter "
                        "values", ("design", "method"))
    for i, row in enumerate(design.rows):
        for key in row:
            ann = check_parameter_path(ctx, key, ("design", "rows", str(i), key))
            if ann is int:
                integer.add(key)
    try:
        return designs.list_design(design.rows)
    except ValueError as exc:
        raise ctx.error(str(exc), ("design", "rows")) from None


def _grid_points(spec: SweepSpec, design: DesignSpec, ctx: Located,
                 integer: set[str]) -> pd.DataFrame:
    """Every combination of each input's values (given, or ``levels`` from low to high)."""
    values = {}
    for name, u in spec.uncertain.items():
        loc = ("uncertain", name)
        if u.values is not None:
            if u.low is not None or u.high is not None or u.levels is not None:
                raise ctx.error("give either values or low/high/levels, not both", loc)
            if not u.values:
                raise ctx.error("values must not be empty", loc)
            values[name] = list(u.values)
        elif u.low is not None and u.high is not None and u.levels is not None:
            _input(name, u, ctx)
            step = (u.high - u.low) / (u.levels - 1)
            values[name] = [u.low + i * step for i in range(u.levels)]
            if name in integer:
                values[name] = sorted({round(v) for v in values[name]})
        else:
            raise ctx.error("a grid input needs values: [...] or low, high and levels", loc)
    if design.n is not None:
        raise ctx.error("a grid design takes no n (its size is the product of the "
                        "value lists)", ("design", "n"))
    return designs.grid_design(values)


def _sampled_points(spec: SweepSpec, design: DesignSpec, ctx: Located,
                    integer: set[str]) -> pd.DataFrame:
    """An lhs, sobol or morris sample of the inputs' distributions."""
    method = design.method
    inputs = []
    for name, u in spec.uncertain.items():
        if u.values is not None or u.levels is not None:
            raise ctx.error(f"values/levels are for grid designs; a {method} design samples "
                            "from low and high", ("uncertain", name))
        inputs.append(_input(name, u, ctx))
    if design.n is None:
        raise ctx.error(f"a {method} design needs n (lhs: points; sobol: base samples, a "
                        "power of 2; morris: trajectories)", ("design", "method"))
    try:
        if method == "lhs":
            return designs.lhs_design(inputs, design.n, seed=spec.seed, integer=integer)
        if method == "sobol":
            return designs.sobol_design(inputs, design.n, seed=spec.seed,
                                        second_order=design.second_order, integer=integer)
        return designs.morris_design(inputs, design.n, seed=spec.seed,
                                     num_levels=design.num_levels, integer=integer)
    except (ScenarioError, ValueError) as exc:
        raise ctx.error(getattr(exc, "message", str(exc)), ("design",)) from None


def _input(name: str, u: UncertainSpec, ctx: Located) -> Input:
    loc = ("uncertain", name)
    for key in ("low", "high"):
        if getattr(u, key) is None:
            raise ctx.error(f"missing {key}: a range needs low and high", loc)
    if u.low >= u.high:  # type: ignore[operator]
        raise ctx.error(f"low must be < high, got low={u.low}, high={u.high}",
                        (*loc, "low"))
    try:
        return Input(name, float(u.low), float(u.high), u.dist, mode=u.mode)  # type: ignore[arg-type]
    except ScenarioError as exc:
        raise ctx.error(exc.message.replace(f"sensitivity input '{name}': ", ""), loc) from None


def _check_points(points: pd.DataFrame, integer: set[str], spec: SweepSpec, base: Scenario,
                  ctx: Located) -> None:
    """Each range end and each design point must be a valid value of its parameter."""
    for name, u in spec.uncertain.items():
        for key in ("low", "high"):
            value = getattr(u, key)
            if value is not None and u.dist in BOUNDED:
                value = round(value) if name in integer else value
                check_value(base, {name: value}, ctx, ("uncertain", name, key),
                             f"{key} {value} is outside the parameter's valid range: ")
    for p, row in enumerate(points.to_dict("records")):
        row = {k: _plain(v) for k, v in row.items()}
        try:
            base.with_overrides(row)
        except ScenarioError as exc:
            if spec.design and spec.design.method == "list":
                loc: tuple[str, ...] = ("design", "rows", str(p))
            else:
                culprit = next((k for k in row if exc.path and exc.path.startswith(k)), None)
                loc = ("uncertain", culprit) if culprit else ("uncertain",)
            raise ctx.error(f"design point {p} ({short(row)}) is invalid: {exc.message}",
                            loc) from None


def _check_combinations(levers: list[LeverSetting], points: pd.DataFrame, spec: SweepSpec,
                        ctx: Located) -> None:
    """Validate each lever setting at each point (when there are not too many)."""
    if len(points.columns) == 0:
        return
    pairs: list[tuple[int, int]]
    if spec.combine == "paired":
        pairs = [(i, i) for i in range(len(points))]
    else:
        pairs = [(lev, p) for p in range(len(points)) for lev in range(len(levers))]
    if len(pairs) > MAX_CHECKED_COMBINATIONS:
        return
    rows = [{k: _plain(v) for k, v in r.items()} for r in points.to_dict("records")]
    scenarios: dict[int, Scenario] = {}
    for lev, p in pairs:
        if lev not in scenarios:
            scenarios[lev] = load_scenario(levers[lev].scenario)
        try:
            scenarios[lev].with_overrides(rows[p])
        except ScenarioError as exc:
            raise ctx.error(f"lever setting {levers[lev].columns} at design point {p} "
                            f"({short(rows[p])}) is invalid: {exc.message}",
                            ("uncertain",)) from None


# --------------------------------------------------------------------------- running


def run_sweep(sweep: Sweep | str | Path, out_dir: str | Path,
              options: RunOptions | None = None) -> RunReport:
    """Run a sweep into ``out_dir`` (see :func:`sim.engine.tasks.run_tasks`).

    Raises:
        ScenarioError: an invalid sweep file, or a resume whose sweep file changed.
    """
    sweep = sweep if isinstance(sweep, Sweep) else load_sweep(sweep)
    options = options or RunOptions()
    store = ResultsStore(out_dir)
    if (options.resume or options.retry_failed) and store.exists():
        old = store.read_manifest()
        if old.get("sweep_sha256") != sweep.sha256():
            changed = changed_keys(old.get("resolved", {}), sweep.resolved())
            raise ScenarioError(
                f"cannot resume {store.path}: the sweep changed since it was created "
                f"({old.get('created_utc')}, from {old.get('sweep_file')}); changed: "
                f"{', '.join(changed) or 'content'}. Restore the sweep file (the original is "
                f"in {store.manifest_path}, key sweep_text) or start a new --out"
            )
    return run_tasks(sweep.tasks(), out_dir, options,
                     timeseries=sweep.spec.outputs.timeseries_every_days is not None,
                     manifest=sweep.manifest())
