"""Trial reproductions: configure the model as a published study and compare with its result.

A validation file (``experiments/validation/*.yaml``) describes one study::

    study: presley2020                       # identifier (also the figure name)
    title: DSME + remote peer support vs DSME alone
    citation: Presley C et al. J Gen Intern Med 2020;35(10):2889-96.
    evidence: EVIDENCE.md calibration target 3
    setting: >                               # how the model is set up as this study
      N = 120, baseline HbA1c about 10, 6 months ...
    scenario: ../../scenarios/designs/usual_care.yaml   # default scenario of every arm
    set:                                     # overrides of every arm, by dotted path
      population.size: 1200
      run.days: 182
    arms:
      dsme:      {label: DSME alone, scenario: ../../scenarios/designs/dsmes_in_person.yaml}
      dsme_peer: {label: DSME + peer calls, scenario: ..., set: {program.im.end_day: 182}}
    replications: 10                         # runs per arm; arms share seeds (paired)
    seed: 2020
    plot: hba1c_mean                         # time-series column drawn per arm
    outcomes:
      - name: HbA1c change, DSME + peer support
        of: {arm: dsme_peer}                 # or {difference: [a, b]}, {ratio: [a, b]},
        key: hba1c_change                    #    {contrast: {a: 1, b: -1, ...}}
        published: -0.5
        interval: [-0.92, -0.08]
        interval_source: 95% CI derived from SD 1.5 and n = 48 per arm [I]
        compare: within                      # within | greater | less (than ``threshold``)

An outcome is a summary key of each run (``sim.runner.summarize``), or a time-series
metric: ``timeseries: {column: adherent_share, at_day: 42}`` (the recorded value on that
day) or ``{column: adherent_share, days_to_reach: 0.25}`` (first recorded day at or above
the level; the run length when never reached, i.e. censored). Its model value is computed per
replication (paired across arms: replication r of every arm runs on the same seed, so a
difference is taken run by run), then summarised by the mean and a t-based 95% interval over
replications. ``within`` passes when the model mean lies in the published interval;
``greater``/``less`` when it lies beyond ``threshold`` (a direction check).

Files are validated before anything runs: unknown keys (with a did-you-mean), parameter
paths, arm names, summary keys and every arm's scenario; errors name file, line and key path.
"""

from __future__ import annotations

import difflib
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy import stats

from sim.core.outcomes import HBA1C_CUTS, TIMESERIES_COLUMNS, summary_keys
from sim.core.rng import derive_seed
from sim.engine.options import RunOptions
from sim.params.errors import ScenarioError
from sim.params.located import Located, Strict, load_document
from sim.params.scenario import Scenario, Subgroups, check_parameter_path, load_scenario

EDGE_LIST = "network.background.edge_list"
"""The one scenario parameter that names a file (resolved relative to the validation file)."""


# --------------------------------------------------------------------------- file schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ArmSpec(Strict):
    """One arm: a scenario file and overrides."""

    label: str = Field("", description="arm name shown in tables and figures")
    scenario: str | None = Field(None, description="scenario file of this arm, relative to the "
                                 "validation file (default: the study's scenario)")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="overrides of this arm, by dotted path")


class OfSpec(Strict):
    """Which arms an outcome is computed from (exactly one of the four forms)."""

    arm: str | None = Field(None, description="the value in one arm")
    difference: tuple[str, str] | None = Field(None, description="first arm minus second arm")
    ratio: tuple[str, str] | None = Field(None, description="first arm divided by second arm")
    contrast: dict[str, float] | None = Field(None, description="sum of weight x arm value")

    @model_validator(mode="after")
    def _one_form(self) -> OfSpec:
        given = [k for k in ("arm", "difference", "ratio", "contrast") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of arm, difference, ratio, contrast; got "
                             f"{', '.join(given) or 'none'}")
        return self

    def arms(self) -> list[str]:
        """The arms this outcome reads."""
        if self.arm:
            return [self.arm]
        if self.contrast:
            return list(self.contrast)
        return list(self.difference or self.ratio or ())

    def describe(self, labels: Mapping[str, str]) -> str:
        """A short text, e.g. ``DSME + peer - DSME``."""
        name = lambda a: labels.get(a) or a  # noqa: E731
        if self.arm:
            return name(self.arm)
        if self.difference:
            return f"{name(self.difference[0])} - {name(self.difference[1])}"
        if self.ratio:
            return f"{name(self.ratio[0])} / {name(self.ratio[1])}"
        return " ".join(f"{w:+g} x {name(a)}" for a, w in (self.contrast or {}).items())


class TimeseriesMetric(Strict):
    """A value read off each run's time series."""

    column: str = Field(description="time-series column, e.g. adherent_share")
    at_day: int | None = Field(None, ge=0, description="the value recorded on this day")
    days_to_reach: float | None = Field(None, description="first recorded day the column is "
                                        "at or above this level (censored at the run length)")

    @model_validator(mode="after")
    def _one_form(self) -> TimeseriesMetric:
        if (self.at_day is None) == (self.days_to_reach is None):
            raise ValueError("give exactly one of at_day, days_to_reach")
        return self

    def describe(self) -> str:
        """E.g. ``adherent_share on day 42``."""
        if self.at_day is not None:
            return f"{self.column} on day {self.at_day}"
        return f"days until {self.column} >= {self.days_to_reach:g}"


class OutcomeSpec(Strict):
    """One published result and how the model is compared with it."""

    name: str = Field(description="outcome name (unique within the study)")
    of: OfSpec = Field(description="arm, difference, ratio or contrast of arms")
    key: str | None = Field(None, description="summary key of each run, e.g. hba1c_change")
    timeseries: TimeseriesMetric | None = Field(None, description="or a time-series metric")
    published: float = Field(description="the published value (point estimate)")
    interval: tuple[float, float] | None = Field(
        None, description="published 95% CI, or a stated band where none is published")
    interval_source: str = Field("", description="where the interval comes from")
    compare: Literal["within", "greater", "less"] = Field(
        "within", description="within: model mean inside interval; greater/less: model mean "
        "beyond threshold (direction)")
    threshold: float = Field(0.0, description="greater/less: the value to exceed")
    note: str = Field("", description="free text shown in the report")

    @model_validator(mode="after")
    def _consistent(self) -> OutcomeSpec:
        if (self.key is None) == (self.timeseries is None):
            raise ValueError("give exactly one of key (a summary key) and timeseries")
        if self.compare == "within" and self.interval is None:
            raise ValueError("compare: within needs an interval [low, high]")
        if self.interval is not None and self.interval[0] > self.interval[1]:
            raise ValueError(f"interval low ({self.interval[0]:g}) exceeds high "
                             f"({self.interval[1]:g})")
        if self.interval is not None and not self.interval[0] <= self.published <= self.interval[1]:
            lo, hi = self.interval
            raise ValueError(f"published value {self.published:g} lies outside its own interval "
                             f"[{lo:g}, {hi:g}]: a typo in one of them?")
        return self

    def metric(self) -> str:
        """The measured quantity as text."""
        return self.key if self.key else self.timeseries.describe()  # type: ignore[union-attr]


class StudySpec(Strict):
    """A whole validation file."""

    study: str = Field(pattern=r"^[A-Za-z0-9_]+$", description="identifier (letters, digits, _)")
    title: str = Field(description="what the study compared")
    citation: str = Field(description="full reference")
    evidence: str = Field("", description="which EVIDENCE.md target this is")
    setting: str = Field("", description="how the model is configured as this study")
    scenario: str | None = Field(None, description="default scenario file of every arm")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="overrides of every arm, by dotted path")
    arms: dict[str, ArmSpec] = Field(min_length=1, description="the arms, by name")
    replications: int = Field(10, ge=1, le=10_000, description="runs per arm (paired seeds)")
    seed: int = Field(ge=0, le=2**63 - 1, description="root seed of the replication seeds")
    plot: str = Field("hba1c_mean", description="time-series column drawn per arm")
    outcomes: list[OutcomeSpec] = Field(min_length=1, description="published results")


# --------------------------------------------------------------------------- loaded study


@dataclass(frozen=True)
class Study:
    """A validated validation file: its spec and the resolved scenario of every arm."""

    path: Path | None
    spec: StudySpec
    scenarios: dict[str, Scenario] = field(repr=False)

    @property
    def name(self) -> str:
        """The study identifier."""
        return self.spec.study

    @property
    def labels(self) -> dict[str, str]:
        """Arm labels (the arm name when no label is given)."""
        return {a: s.label or a for a, s in self.spec.arms.items()}

    def seeds(self, replications: int | None = None) -> list[int]:
        """Run seed of each replication; every arm of the study uses the same list."""
        n = replications or self.spec.replications
        return [derive_seed(self.spec.seed, r) for r in range(n)]


def load_study(source: str | Path, overrides: Mapping[str, Any] | None = None) -> Study:
    """Read and validate a validation file; resolve the scenario of every arm.

    Args:
        source: the YAML file.
        overrides: extra overrides of every arm (applied last), e.g. a smaller population.

    Raises:
        ScenarioError: naming file, line and key path of the first problem.
    """
    path = Path(source)
    spec, where, _ = load_document(path, StudySpec)
    for key in spec.set:
        check_parameter_path(where, key, ("set", key))
    cuts = spec.set.get("run.subgroups.hba1c", HBA1C_CUTS)  # the study's own bands
    try:
        keys = summary_keys(hba1c_cuts=Subgroups(hba1c=cuts).hba1c)
    except ValidationError as exc:
        raise where.error(f"expected increasing HbA1c cut-offs within 4-20 %: "
                          f"{exc.errors()[0]['msg']}", ("set", "run.subgroups.hba1c")) from None
    ts_columns = TIMESERIES_COLUMNS
    if spec.plot not in ts_columns:
        raise where.error(_unknown("time-series column", spec.plot, ts_columns), ("plot",))
    for i, out in enumerate(spec.outcomes):
        loc = ("outcomes", str(i))
        for arm in out.of.arms():
            if arm not in spec.arms:
                raise where.error(_unknown("arm", arm, spec.arms), (*loc, "of"))
        if out.key is not None and out.key not in keys:
            raise where.error(_unknown("summary key", out.key, keys), (*loc, "key"))
        if out.timeseries is not None and out.timeseries.column not in ts_columns:
            raise where.error(_unknown("time-series column", out.timeseries.column, ts_columns),
                              (*loc, "timeseries", "column"))
    names = [o.name for o in spec.outcomes]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise where.error(f"outcome name '{name}' appears twice", ("outcomes", str(i),
                                                                         "name"))
    scenarios = {}
    for arm, arm_spec in spec.arms.items():
        scenarios[arm] = _arm_scenario(path, spec, arm, arm_spec, where, overrides or {})
    return Study(path=path, spec=spec, scenarios=scenarios)


def _unknown(what: str, name: str, valid: Any) -> str:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {what} '{name}'{hint}"


def _arm_scenario(path: Path, spec: StudySpec, arm: str, arm_spec: ArmSpec, where: Located,
                  extra: Mapping[str, Any]) -> Scenario:
    loc = ("arms", arm)
    ref = arm_spec.scenario or spec.scenario
    if ref is None:
        raise where.error(f"arm '{arm}' has no scenario and the study gives no default "
                          "'scenario'", loc)
    file = path.parent / ref
    if not file.is_file():
        raise where.error(f"scenario names a missing file: {file}",
                          (*loc, "scenario") if arm_spec.scenario else ("scenario",))
    for key in arm_spec.set:
        check_parameter_path(where, key, (*loc, "set", key))
    merged = {**spec.set, **arm_spec.set, **extra}
    if isinstance(merged.get(EDGE_LIST), str):
        merged[EDGE_LIST] = str((path.parent / merged[EDGE_LIST]).resolve())
    try:
        return load_scenario(file, merged)
    except ScenarioError as exc:
        if exc.file and not exc.file.startswith("--set"):
            raise ScenarioError(f"arm '{arm}': {exc.message}", file=exc.file, line=exc.line,
                                path=exc.path) from None
        culprit = next((k for k in merged if exc.path and (
            exc.path == k or exc.path.startswith(k + ".") or k.startswith(exc.path + "."))),
            None)
        section = (*loc, "set") if culprit in arm_spec.set else ("set",)
        raise where.error(f"arm '{arm}': {exc.message}",
                          (*section, culprit) if culprit else loc) from None


# --------------------------------------------------------------------------- running


def study_tasks(study: Study, *, replications: int | None = None,
                overrides: Mapping[str, Any] | None = None) -> list[Any]:
    """One task per arm and replication; replication r of every arm shares its seed."""
    from sim.engine.tasks import Task

    tasks = []
    for arm, scenario in study.scenarios.items():
        for r, seed in enumerate(study.seeds(replications)):
            tasks.append(Task(run_id=f"{study.name}|{arm}|{r}", scenario=scenario, seed=seed,
                              overrides=dict(overrides or {}),
                              meta={"study": study.name, "arm": arm, "replication": r}))
    return tasks


@dataclass
class OutcomeResult:
    """One outcome of one study: published value, model value and verdict."""

    study: str
    title: str
    outcome: OutcomeSpec
    of: str
    samples: np.ndarray
    mean: float
    ci_low: float
    ci_high: float
    passed: bool

    @property
    def n(self) -> int:
        """Replications that entered the model value."""
        return int(np.isfinite(self.samples).sum())


def per_run_metric(outcome: OutcomeSpec, runs: pd.DataFrame,
                   timeseries: pd.DataFrame | None) -> pd.Series:
    """The outcome's metric for each run (indexed like ``runs``)."""
    if outcome.key is not None:
        if outcome.key not in runs.columns:
            return pd.Series(np.nan, index=runs.index)
        return runs[outcome.key].astype(float)
    ts_spec = outcome.timeseries
    assert ts_spec is not None  # guaranteed by OutcomeSpec validation
    if runs.empty:
        return pd.Series(np.nan, index=runs.index)
    if timeseries is None or ts_spec.column not in timeseries.columns:
        raise ScenarioError(f"outcome '{outcome.name}' needs time series, which were not kept")
    grouped = dict(tuple(timeseries.groupby("run_id", sort=False)))
    values = []
    for run_id in runs["run_id"]:
        ts = grouped.get(run_id)
        values.append(np.nan if ts is None else _ts_value(ts_spec, ts))
    return pd.Series(values, index=runs.index, dtype=float)


def _ts_value(spec: TimeseriesMetric, ts: pd.DataFrame) -> float:
    day = ts["day"].to_numpy()
    col = ts[spec.column].to_numpy(dtype=float)
    if spec.at_day is not None:
        hit = np.nonzero(day >= spec.at_day)[0]
        return float(col[hit[0]]) if hit.size else float("nan")
    reached = np.nonzero(col >= spec.days_to_reach - 1e-12)[0]
    return float(day[reached[0]]) if reached.size else float(day[-1])


def evaluate(study: Study, runs: pd.DataFrame, timeseries: pd.DataFrame | None = None,
             outcomes: Sequence[OutcomeSpec] | None = None,
             confidence: float = 0.95) -> list[OutcomeResult]:
    """Compare the study's runs with its published results.

    Args:
        study: the study.
        runs: one row per run with columns run_id, study, arm, replication, status and the
            summary outputs (as :func:`sim.load_results` gives).
        timeseries: the runs' time series (needed by time-series outcomes).
        outcomes: the outcomes to evaluate (default: the study's).
        confidence: level of the model interval over replications (t-based).
    """
    mine = runs[(runs["study"] == study.name) & (runs["status"] == "ok")]
    results = []
    for outcome in outcomes if outcomes is not None else study.spec.outcomes:
        metric = per_run_metric(outcome, mine, timeseries)
        table = pd.DataFrame({"arm": mine["arm"], "replication": mine["replication"],
                              "value": metric}).pivot_table(
            index="replication", columns="arm", values="value", aggfunc="mean", dropna=False)
        samples = combine(outcome.of, table)
        mean, lo, hi = summarise(samples, confidence)
        results.append(OutcomeResult(
            study=study.name, title=study.spec.title, outcome=outcome,
            of=outcome.of.describe(study.labels), samples=samples, mean=mean, ci_low=lo,
            ci_high=hi, passed=verdict(outcome, mean)))
    return results


def combine(of: OfSpec, table: pd.DataFrame) -> np.ndarray:
    """Per-replication values of an arm, difference, ratio or contrast (paired by row)."""
    def col(arm: str) -> np.ndarray:
        return table[arm].to_numpy(dtype=float) if arm in table else np.full(len(table), np.nan)
    if of.arm:
        return col(of.arm)
    if of.difference:
        return col(of.difference[0]) - col(of.difference[1])
    if of.ratio:
        with np.errstate(divide="ignore", invalid="ignore"):
            return col(of.ratio[0]) / col(of.ratio[1])
    return sum((w * col(a) for a, w in (of.contrast or {}).items()),
               np.zeros(len(table)))


def summarise(samples: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and t-based interval of the finite samples (nan interval below 2 samples)."""
    x = samples[np.isfinite(samples)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if x.size < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def verdict(outcome: OutcomeSpec, mean: float) -> bool:
    """Whether the model mean meets the outcome's comparison."""
    if not math.isfinite(mean):
        return False
    if outcome.compare == "greater":
        return mean > outcome.threshold
    if outcome.compare == "less":
        return mean < outcome.threshold
    lo, hi = outcome.interval  # type: ignore[misc]
    return lo <= mean <= hi


@dataclass
class Validation:
    """What :func:`run_validation` produced."""

    studies: list[Study]
    results: list[OutcomeResult]
    runs: pd.DataFrame
    timeseries: pd.DataFrame | None
    replications: dict[str, int]
    failed_runs: int = 0
    wall_time_s: float = 0.0

    @property
    def passed(self) -> bool:
        """Every outcome passed and every run succeeded."""
        return all(r.passed for r in self.results) and not self.failed_runs


def run_validation(
    studies: Sequence[Study],
    out_dir: str | Path | None = None,
    options: RunOptions | None = None,
    *,
    replications: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    outcomes: Mapping[str, Sequence[OutcomeSpec]] | None = None,
) -> Validation:
    """Run every arm x replication of the studies (one ``run_tasks`` call) and evaluate them.

    Args:
        studies: loaded validation files.
        out_dir: results store (default: a temporary directory, removed afterwards).
        options: how the runs are executed (see :class:`sim.engine.options.RunOptions`).
        replications: replications per arm instead of each study's own.
        overrides: overrides of every run (applied after the studies' own).
        outcomes: outcomes to evaluate per study name instead of the files' (calibration).
    """
    from sim.engine.store import load_results
    from sim.engine.tasks import run_tasks

    names = [s.name for s in studies]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ScenarioError(f"study identifier(s) {', '.join(sorted(dupes))} appear more than "
                            "once; each validation file needs its own 'study'")
    tasks = [t for s in studies for t in study_tasks(s, replications=replications,
                                                     overrides=overrides)]
    with tempfile.TemporaryDirectory(prefix="peersupport-validate-") as tmp:
        store = Path(out_dir) if out_dir is not None else Path(tmp) / "runs"
        report = run_tasks(tasks, store, options, timeseries=True,
                           manifest={"kind": "validation", "studies": names})
        loaded = load_results(store)
        runs, ts = loaded.runs, loaded.timeseries
    results = []
    for study in studies:
        chosen = outcomes.get(study.name) if outcomes is not None else None
        if outcomes is not None and chosen is None:
            continue
        results += evaluate(study, runs, ts, chosen)
    return Validation(studies=list(studies), results=results, runs=runs, timeseries=ts,
                      replications={s.name: replications or s.spec.replications
                                    for s in studies},
                      failed_runs=report.failed_total + report.missing,
                      wall_time_s=report.wall_time_s)


def default_files(root: str | Path = ".") -> list[Path]:
    """The validation files shipped in ``experiments/validation/``."""
    return sorted((Path(root) / "experiments" / "validation").glob("*.yaml"))
