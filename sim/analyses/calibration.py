"""Calibration: fit chosen parameters to published targets with Optuna (resumable, SQLite).

A calibration file (``experiments/calibration/*.yaml``)::

    name: evidence_defaults                 # the Optuna study name
    studies:                                # validation files: how each study is set up
      - ../validation/dsmes_chrvala2016.yaml
      - ../validation/sartori2020_whatsapp.yaml
    set: {population.size: 1000}            # overrides of every run while fitting (speed)
    replications: 3                         # runs per arm and trial (fixed common seeds)
    seed: 7
    parameters:                             # what is fitted: range and prior
      clinical.lifestyle_effect_pct: {low: 0.5, high: 5.0}
      behaviour.support_effect_logit: {low: 0.5, high: 10, prior: log_uniform}
      network.moderator_strength: {low: 0.05, high: 1, prior: normal, mean: 0.3, sd: 0.2}
    targets:                                # an outcome of a study file (or of/key inline)
      - {study: dsmes_chrvala2016, outcome: "HbA1c change, DSMES arm", mean: -0.74, se: 0.10}
      - {study: sartori2020_whatsapp, outcome: "Adherent share, WhatsApp arm",
         successes: 137, trials: 203}
    start:                                  # optional: points tried first (every parameter)
      - {clinical.lifestyle_effect_pct: 2.0, behaviour.support_effect_logit: 2.0,
         network.moderator_strength: 0.3}
    trials: 100                             # trials per `peersupport calibrate` call
    report_replications: 10                 # replications of the fit report

Objective (minimised) = -2 log posterior + constant:

* a target with a mean and standard error adds its squared z-score ((model - mean) / se)^2;
* a proportion with counts adds its binomial deviance
  2 [k ln(k / (n p)) + (n - k) ln((n - k) / (n (1 - p)))] (a chi-square-like misfit);
* a ``normal`` prior adds ((value - mean) / sd)^2; ``uniform`` and ``log_uniform`` add 0;
* a target's ``weight`` (default 1) multiplies its term: 0.5 for a value that should count
  half, such as an arm's own change next to the between-arm differences.

The model value of a target is its mean over ``replications`` runs per arm. Every trial uses
the same seeds (``derive_seed(seed, r)``, shared by all arms: paired), so the objective is a
deterministic, smooth-ish function of the parameters (common random numbers).

The Optuna study lives in ``OUT/optuna.sqlite3`` (``OUT``: ``--out``, default
``results/calibration/<out or name>`` under the working directory; never a path the file
names, so a calibration file cannot write elsewhere), so a calibration can be resumed
(``--resume``: the same study goes on, the trial count grows) and inspected
(``optuna-dashboard sqlite:///...``).
Resuming is refused when the calibration or its studies changed (a fingerprint is stored).
Outputs: ``best.yaml`` (the best parameters as a scenario overlay: ``extends`` it or pass
its ``--set`` line), ``fit_report.md`` / ``fit_report.html`` (targets vs fitted with 95%
intervals over ``report_replications`` replications, and how well each parameter is
identified; written by ``sim.report.calibration_report``), ``trials.csv`` and
``near_best.csv`` (the trials within chi2_k(0.5) of the best objective, :func:`near_best`).
Each worker, and each resumed round, seeds its sampler differently (no duplicate trials).
An output folder holding files this command did not create (no ``MARKER`` file) is refused
unless ``force``.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import Field, model_validator

from sim.analyses.validation import (
    OfSpec,
    OutcomeSpec,
    Study,
    Validation,
    evaluate,
    load_study,
    run_validation,
)
from sim.core.outcomes import summary_keys
from sim.core.rng import derive_seed
from sim.engine.options import RunOptions
from sim.params.errors import ScenarioError
from sim.params.located import Strict, load_document
from sim.params.scenario import check_parameter_path, set_path
from sim.uncertainty import PriorName

OBJECTIVE_FAILED = 1e12
"""Objective of a trial whose model value is undefined (e.g. an empty subgroup)."""


# --------------------------------------------------------------------------- file schema


class ParameterSpec(Strict):
    """A fitted parameter: its range and prior."""

    low: float = Field(description="lower end of the search range")
    high: float = Field(description="upper end of the search range")
    prior: PriorName = Field(
        "uniform", description="uniform or log_uniform over [low, high], or normal "
        "(mean, sd) truncated to [low, high]")
    mean: float | None = Field(None, description="normal prior: mean")
    sd: float | None = Field(None, gt=0, description="normal prior: standard deviation")
    integer: bool = Field(False, description="search integers only")
    source: str = Field("", description="why this range and prior (shown in the overlay)")

    @model_validator(mode="after")
    def _consistent(self) -> ParameterSpec:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.prior == "log_uniform" and self.low <= 0:
            raise ValueError("a log_uniform prior needs low > 0")
        if self.prior == "normal" and (self.mean is None or self.sd is None):
            raise ValueError("a normal prior needs mean and sd")
        if self.prior != "normal" and (self.mean is not None or self.sd is not None):
            raise ValueError("mean and sd belong to a normal prior; set prior: normal")
        return self


class TargetSpec(Strict):
    """A published value the model should reproduce."""

    study: str = Field(description="a study of the 'studies' files (its 'study' identifier)")
    outcome: str | None = Field(None, description="name of an outcome of that study file")
    name: str | None = Field(None, description="target name (default: the outcome's)")
    of: OfSpec | None = Field(None, description="instead of outcome: arm/difference/ratio")
    key: str | None = Field(None, description="instead of outcome: the summary key")
    mean: float | None = Field(None, description="published mean")
    se: float | None = Field(None, gt=0, description="its standard error")
    successes: int | None = Field(None, ge=0, description="published count with the outcome")
    trials: int | None = Field(None, ge=1, description="out of this many")
    weight: float = Field(1.0, gt=0, le=100, description="factor on this target's misfit "
                          "(e.g. 0.5 for an arm-level value next to between-arm differences)")

    @model_validator(mode="after")
    def _consistent(self) -> TargetSpec:
        if (self.outcome is None) == (self.of is None or self.key is None):
            raise ValueError("give either outcome (a name in the study file) or both of and "
                             "key")
        gaussian = self.mean is not None or self.se is not None
        binomial = self.successes is not None or self.trials is not None
        if gaussian == binomial:
            raise ValueError("give either mean and se, or successes and trials")
        if gaussian and (self.mean is None or self.se is None):
            raise ValueError("a mean target needs both mean and se")
        if binomial and (self.successes is None or self.trials is None):
            raise ValueError("a proportion target needs both successes and trials")
        if binomial and self.successes > self.trials:  # type: ignore[operator]
            raise ValueError(f"successes ({self.successes}) exceed trials ({self.trials})")
        return self

    @property
    def value(self) -> float:
        """The published value (mean, or successes / trials)."""
        if self.mean is not None:
            return self.mean
        return self.successes / self.trials  # type: ignore[operator]

    def interval(self) -> tuple[float, float]:
        """95% interval: mean +/- 1.96 se, or the Wilson interval of the proportion."""
        if self.mean is not None:
            return self.mean - 1.96 * self.se, self.mean + 1.96 * self.se  # type: ignore[operator]
        n, p, z = self.trials, self.value, 1.96
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)  # type: ignore[operator]
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)  # type: ignore[operator]
        return centre - half, centre + half

    def misfit(self, model: float) -> float:
        """Squared z-score, or binomial deviance, of a model value, times the weight."""
        if not math.isfinite(model):
            return OBJECTIVE_FAILED
        return self.weight * self._misfit(model)

    def _misfit(self, model: float) -> float:
        """Squared z-score, or binomial deviance, of a finite model value."""
        if self.mean is not None:
            return ((model - self.mean) / self.se) ** 2  # type: ignore[operator]
        k, n = self.successes, self.trials
        p = min(max(model, 1e-9), 1 - 1e-9)
        dev = 0.0
        if k:
            dev += k * math.log(k / (n * p))  # type: ignore[operator]
        if n - k:  # type: ignore[operator]
            dev += (n - k) * math.log((n - k) / (n * (1 - p)))  # type: ignore[operator]
        return 2.0 * dev


class SamplerSpec(Strict):
    """The Optuna sampler."""

    kind: Literal["tpe", "random"] = Field("tpe", description="tpe (default) or random")
    seed: int = Field(0, ge=0, description="sampler seed")
    startup_trials: int = Field(12, ge=1, description="tpe: random trials before modelling")


_PLAIN_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
"""A name that is a single path component and not ``.`` or ``..``: it names folders."""

MARKER = ".peersupport-calibration"
"""The file marking an output folder as made by ``peersupport calibrate``."""

RESULTS_ROOT = Path("results") / "calibration"
"""Default parent of calibration output folders (relative to the working directory)."""


class CalibrationSpec(Strict):
    """A whole calibration file."""

    name: str = Field(pattern=_PLAIN_NAME, description="Optuna study name")
    description: str = Field("", description="free text")
    studies: list[str] = Field(min_length=1, description="validation files, relative to this "
                               "file")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="overrides of every run while fitting")
    parameters: dict[str, ParameterSpec] = Field(min_length=1,
                                                 description="fitted parameters by path")
    targets: list[TargetSpec] = Field(min_length=1, description="published values to fit")
    replications: int = Field(3, ge=1, le=1000, description="runs per arm and trial")
    seed: int = Field(ge=0, le=2**63 - 1, description="root seed of the common seeds")
    sampler: SamplerSpec = Field(default_factory=SamplerSpec, description="Optuna sampler")
    start: list[dict[str, float]] = Field(
        default_factory=list, description="points tried first, in order, when the study is "
        "created (e.g. an earlier fit's best with a widened range's parameter moved); each "
        "gives a value for every fitted parameter")
    trials: int = Field(50, ge=1, description="trials per call (default of --trials)")
    report_replications: int = Field(10, ge=2, le=10_000,
                                     description="replications of the fit report")
    out: str | None = Field(None, pattern=_PLAIN_NAME, description="output folder name "
                            "under results/calibration/ (default: the name); a plain name, "
                            "not a path")


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Target:
    """A target resolved against its study: the spec and the outcome it measures."""

    spec: TargetSpec
    study: Study
    outcome: OutcomeSpec

    @property
    def name(self) -> str:
        """Target name."""
        return self.outcome.name


@dataclass(frozen=True)
class Calibration:
    """A validated calibration file with its studies and targets resolved."""

    path: Path
    spec: CalibrationSpec
    studies: dict[str, Study]
    targets: list[Target]
    out_dir: Path
    """Where the study database and outputs go (see :func:`claim_out_dir`)."""

    @property
    def storage_url(self) -> str:
        """The Optuna storage (SQLite in the output folder)."""
        return f"sqlite:///{(self.out_dir / 'optuna.sqlite3').resolve()}"

    def arms(self) -> dict[str, list[str]]:
        """The arms each study must run for the targets."""
        need: dict[str, list[str]] = {}
        for t in self.targets:
            arms = need.setdefault(t.study.name, [])
            arms += [a for a in t.outcome.of.arms() if a not in arms]
        return need

    def seeds(self, replications: int | None = None) -> list[int]:
        """The common seeds of every trial (replication r of every arm uses seed r)."""
        return [derive_seed(self.spec.seed, r) for r in range(replications or
                                                               self.spec.replications)]

    def fingerprint(self) -> str:
        """SHA-256 of what decides the objective.

        The spec and arm scenarios, with the fitted parameters blanked so that adopting fitted
        defaults does not change it.
        """
        blank = {k: p.low for k, p in self.spec.parameters.items()}
        scen = {}
        for study, arms in self.arms().items():
            for arm in arms:
                sc = self.studies[study].scenarios[arm].with_overrides(
                    {**self.spec.set, **blank})
                scen[f"{study}|{arm}"] = sc.model_dump(mode="json")
        spec = self.spec.model_dump(mode="json", exclude={"trials", "report_replications",
                                                          "out", "description"})
        text = json.dumps({"spec": spec, "scenarios": scen,
                           "outcomes": [t.outcome.model_dump(mode="json")
                                        for t in self.targets]}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def load_calibration(source: str | Path, out: str | Path | None = None) -> Calibration:
    """Read and validate a calibration file and the validation files it names.

    ``out`` is the output folder (default ``results/calibration/<out or name>``).

    Raises:
        ScenarioError: naming file, line and key path of the first problem.
    """
    path = Path(source)
    spec, where, _ = load_document(path, CalibrationSpec)
    for key in spec.set:
        check_parameter_path(where, key, ("set", key))
    for key in spec.parameters:
        check_parameter_path(where, key, ("parameters", key), numeric_for="can be fitted")
        if key in spec.set:
            raise where.error(f"'{key}' is both fitted and fixed in 'set'", ("parameters", key))
    for i, point in enumerate(spec.start):
        _check_start(where, spec, point, ("start", str(i)))
    studies: dict[str, Study] = {}
    for i, ref in enumerate(spec.studies):
        file = path.parent / ref
        if not file.is_file():
            raise where.error(f"names a missing validation file: {file}", ("studies", str(i)))
        study = load_study(file)
        if study.name in studies:
            raise where.error(f"study '{study.name}' is named twice", ("studies", str(i)))
        studies[study.name] = study
    keys = summary_keys()
    targets = []
    for i, t in enumerate(spec.targets):
        loc = ("targets", str(i))
        study = studies.get(t.study)
        if study is None:
            raise where.error(f"unknown study '{t.study}'; the studies are "
                              f"{', '.join(studies)}", (*loc, "study"))
        if t.outcome is not None:
            found = next((o for o in study.spec.outcomes if o.name == t.outcome), None)
            if found is None:
                names = "; ".join(o.name for o in study.spec.outcomes)
                raise where.error(f"study '{t.study}' has no outcome '{t.outcome}'; its "
                                  f"outcomes are: {names}", (*loc, "outcome"))
            of, key, ts = found.of, found.key, found.timeseries
        else:
            of, key, ts = t.of, t.key, None
            for arm in of.arms():  # type: ignore[union-attr]
                if arm not in study.spec.arms:
                    raise where.error(f"study '{t.study}' has no arm '{arm}'", (*loc, "of"))
            if key not in keys:
                raise where.error(f"unknown summary key '{key}'", (*loc, "key"))
        lo, hi = t.interval()
        kind = (f"target +/- 1.96 SE (SE {t.se:g})" if t.mean is not None else
                f"Wilson 95% interval of {t.successes}/{t.trials}")
        if t.weight != 1:
            kind += f"; weight {t.weight:g} in the objective"
        outcome = OutcomeSpec(name=t.name or t.outcome or f"target {i}", of=of, key=key,
                              timeseries=ts, published=t.value, interval=(lo, hi),
                              interval_source=kind)
        targets.append(Target(spec=t, study=study, outcome=outcome))
    names = [t.name for t in targets]
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise where.error(f"target name '{n}' appears twice; give one a 'name'",
                              ("targets", str(i)))
    out_dir = Path(out) if out is not None else RESULTS_ROOT / (spec.out or spec.name)
    return Calibration(path=path, spec=spec, studies=studies, targets=targets,
                       out_dir=out_dir)


def _check_start(where: Any, spec: CalibrationSpec, point: Mapping[str, float],
                 loc: tuple[str, ...]) -> None:
    """A start point names every fitted parameter, and only those, within its range."""
    missing = [k for k in spec.parameters if k not in point]
    if missing:
        raise where.error(f"a start point needs a value for every fitted parameter; missing "
                          f"{', '.join(missing)}", loc)
    for key, value in point.items():
        p = spec.parameters.get(key)
        if p is None:
            raise where.error(f"'{key}' is not a fitted parameter; the parameters are "
                              f"{', '.join(spec.parameters)}", (*loc, key))
        if not p.low <= value <= p.high:
            raise where.error(f"{value:g} is outside the range [{p.low:g}, {p.high:g}]",
                              (*loc, key))


def claim_out_dir(cal: Calibration, *, force: bool = False) -> None:
    """Create the output folder and mark it as ours; refuse one with files we did not make.

    Raises:
        ScenarioError: the folder is not empty and has no ``MARKER`` (unless ``force``).
    """
    out = cal.out_dir
    if out.is_dir() and not (out / MARKER).is_file() and any(out.iterdir()) and not force:
        raise ScenarioError(f"{out} holds files that peersupport calibrate did not create; "
                            "choose another --out, or pass --force to write there anyway")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(json.dumps({"calibration": str(cal.path),
                                          "name": cal.spec.name}) + "\n")


# --------------------------------------------------------------------------- objective


def simulate(cal: Calibration, params: Mapping[str, Any], *,
             replications: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Run the arms the targets need, in this process, at ``params`` (common seeds).

    Returns:
        The runs table (run_id, study, arm, replication, status and summary outputs) and
        the time series (None unless a target needs them).
    """
    from sim.runner import run

    need_ts = any(t.outcome.timeseries is not None for t in cal.targets)
    rows, series = [], []
    overrides = {**cal.spec.set, **params}
    for study_name, arms in cal.arms().items():
        study = cal.studies[study_name]
        for arm in arms:
            scenario = study.scenarios[arm].with_overrides(overrides)
            for r, seed in enumerate(cal.seeds(replications)):
                run_id = f"{study_name}|{arm}|{r}"
                result = run(scenario, seed)
                rows.append({"run_id": run_id, "study": study_name, "arm": arm,
                             "replication": r, "status": "ok", **result.summary})
                if need_ts:
                    ts = result.timeseries.copy()
                    ts.insert(0, "run_id", run_id)
                    series.append(ts)
    return pd.DataFrame(rows), (pd.concat(series, ignore_index=True) if series else None)


def model_values(cal: Calibration, runs: pd.DataFrame,
                 timeseries: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Per-replication model value of every target."""
    out = {}
    for study_name in cal.arms():
        mine = [t for t in cal.targets if t.study.name == study_name]
        for t, res in zip(mine, evaluate(cal.studies[study_name], runs, timeseries,
                                         [t.outcome for t in mine]), strict=True):
            out[t.name] = res.samples
    return out


def objective_terms(cal: Calibration, values: Mapping[str, np.ndarray],
                    params: Mapping[str, float]) -> dict[str, float]:
    """Each target's misfit and each normal prior's penalty (their sum is the objective)."""
    terms = {}
    for t in cal.targets:
        x = values[t.name]
        x = x[np.isfinite(x)]
        terms[t.name] = t.spec.misfit(float(x.mean()) if x.size else float("nan"))
    for name, p in cal.spec.parameters.items():
        if p.prior == "normal":
            terms[f"prior {name}"] = ((params[name] - p.mean) / p.sd) ** 2  # type: ignore[operator]
    return terms


def suggest(trial: Any, cal: Calibration) -> dict[str, float]:
    """Draw a trial's parameters from their ranges (log scale for log_uniform)."""
    out: dict[str, float] = {}
    for name, p in cal.spec.parameters.items():
        if p.integer:
            out[name] = trial.suggest_int(name, math.ceil(p.low), math.floor(p.high),
                                          log=p.prior == "log_uniform")
        else:
            out[name] = trial.suggest_float(name, p.low, p.high, log=p.prior == "log_uniform")
    return out


def objective(trial: Any, cal: Calibration, sampler_seed: int | None = None) -> float:
    """Optuna objective: -2 log posterior (+ const) at the trial's parameters.

    ``sampler_seed`` (the seed of the sampler that drew the trial) is recorded with it.
    """
    if sampler_seed is not None:
        trial.set_user_attr("sampler_seed", sampler_seed)
    params = suggest(trial, cal)
    runs, ts = simulate(cal, params)
    values = model_values(cal, runs, ts)
    terms = objective_terms(cal, values, params)
    for t in cal.targets:
        x = values[t.name]
        trial.set_user_attr(f"model: {t.name}", float(np.nanmean(x)) if np.isfinite(x).any()
                            else None)
    trial.set_user_attr("misfit", {k: round(v, 4) for k, v in terms.items()})
    return float(sum(terms.values()))


# --------------------------------------------------------------------------- optimisation


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ScenarioError("calibration needs optuna: pip install 'peersupport[calibrate]'") \
            from None
    return optuna


def _storage(cal: Calibration) -> Any:
    """SQLite storage with heartbeats, so trials of a killed run are marked failed on resume."""
    optuna = _optuna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(cal.storage_url,
                                          engine_kwargs={"connect_args": {"timeout": 120}},
                                          heartbeat_interval=60, grace_period=180)


def _sampler(cal: Calibration, offset: int = 0) -> Any:
    """The file's sampler seeded ``sampler.seed + offset``.

    Every worker and every resumed round gets its own offset: samplers sharing a seed
    propose the same parameter vectors (duplicate trials).
    """
    optuna = _optuna()
    s = cal.spec.sampler
    if s.kind == "random":
        return optuna.samplers.RandomSampler(seed=s.seed + offset)
    return optuna.samplers.TPESampler(seed=s.seed + offset, n_startup_trials=s.startup_trials,
                                      multivariate=True)


def open_study(cal: Calibration, *, resume: bool, force: bool = False) -> Any:
    """Create the Optuna study, or load it to continue (checking it is the same problem).

    Raises:
        ScenarioError: the study exists and ``resume`` is false, or it was made by a
            different calibration (fingerprint mismatch), or the output folder holds files
            this command did not create (unless ``force``).
    """
    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    claim_out_dir(cal, force=force)
    storage = _storage(cal)
    names = {s.study_name for s in optuna.study.get_all_study_summaries(storage)}
    fingerprint = cal.fingerprint()
    if cal.spec.name in names:
        if not resume:
            raise ScenarioError(
                f"calibration '{cal.spec.name}' already exists in {cal.storage_url}; continue "
                "it with --resume, or choose another name or out folder")
        study = optuna.load_study(study_name=cal.spec.name, storage=storage,
                                  sampler=_sampler(cal))
        old = study.user_attrs.get("fingerprint")
        if old != fingerprint:
            raise ScenarioError(
                f"cannot resume '{cal.spec.name}': its parameters, targets, studies or "
                f"base scenarios changed since it was created (fingerprint {str(old)[:12]} vs "
                f"{fingerprint[:12]}); start a new calibration (another name or out folder)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        return study
    study = optuna.create_study(study_name=cal.spec.name, storage=storage,
                                sampler=_sampler(cal), direction="minimize")
    study.set_user_attr("fingerprint", fingerprint)
    study.set_user_attr("calibration_file", str(cal.path))
    study.set_user_attr("created_utc", datetime.now(UTC).isoformat())
    for point in cal.spec.start:
        study.enqueue_trial(dict(point))
    return study


def _worker(path: str, out: str, n_trials: int, threads: int | None, offset: int) -> None:
    """A worker process: run ``n_trials`` trials of the study, sampler seed offset ``offset``."""
    if threads:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cal = load_calibration(path, out)
    study = optuna.load_study(study_name=cal.spec.name, storage=_storage(cal),
                              sampler=_sampler(cal, offset))
    seed = cal.spec.sampler.seed + offset
    study.optimize(lambda t: objective(t, cal, seed), n_trials=n_trials,
                   catch=(ScenarioError,))


def optimise(cal: Calibration, *, trials: int | None = None, workers: int = 1,
             resume: bool = False, progress: bool = False, force: bool = False) -> Any:
    """Run ``trials`` more trials (default: the file's ``trials``) on ``workers`` processes.

    ``force``: write into an output folder this command did not create.

    Returns:
        The Optuna study (stored in SQLite; reload it with ``optuna.load_study``).
    """
    n = cal.spec.trials if trials is None else trials
    if n < 0:
        raise ScenarioError(f"--trials must be >= 0, got {n}")
    if workers < 1:
        raise ScenarioError(f"--workers must be >= 1, got {workers}")
    study = open_study(cal, resume=resume, force=force)
    if n == 0:
        return study
    from tqdm.auto import tqdm

    waiting = study.get_trials(deepcopy=False, states=(_optuna().trial.TrialState.WAITING,))
    if workers > 1 and waiting:
        # Optuna's SQLite storage can hand one queued trial to two processes (the second then
        # fails to report it and dies): the queued start points run here, one after another.
        first = min(len(waiting), n)
        _optimise_here(cal, study, first, progress)
        n -= first
        if n == 0:
            return study
    if workers == 1:
        return _optimise_here(cal, study, n, progress)
    start = len(study.trials)  # sampler seed offset of this round's first worker
    from sim.engine.executors import default_workers

    threads = max(1, default_workers() // workers)
    shares = [n // workers + (i < n % workers) for i in range(workers)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker,
                         args=(str(cal.path), str(cal.out_dir), k, threads, start + i),
                         daemon=True) for i, k in enumerate(shares) if k]
    for p in procs:
        p.start()
    bar = tqdm(total=n, unit="trial", desc=cal.spec.name, disable=not progress,
               file=sys.stderr)
    try:
        while any(p.is_alive() for p in procs):
            time.sleep(2.0)
            done = len(study.trials) - start
            bar.update(max(0, done - bar.n))
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        raise
    finally:
        for p in procs:
            p.join()
        bar.close()
    bad = [p.exitcode for p in procs if p.exitcode]
    if bad:
        raise ScenarioError(f"{len(bad)} calibration worker(s) failed (exit codes {bad}); "
                            "rerun with --workers 1 to see the error")
    return study


def _optimise_here(cal: Calibration, study: Any, n: int, progress: bool) -> Any:
    """Run ``n`` trials in this process (the sampler seeded after the trials so far)."""
    from tqdm.auto import tqdm

    start = len(study.trials)
    bar = tqdm(total=n, unit="trial", desc=cal.spec.name, disable=not progress,
               file=sys.stderr)
    study.sampler = _sampler(cal, start)
    seed = cal.spec.sampler.seed + start
    study.optimize(lambda t: objective(t, cal, seed), n_trials=n, catch=(ScenarioError,),
                   callbacks=[lambda s, t: bar.update(1)])
    bar.close()
    return study


# --------------------------------------------------------------------------- outputs


BEST_DIGITS = 4
"""Significant digits of the best parameters in ``best.yaml`` (and so in adopted defaults)."""


def best_parameters(cal: Calibration, study: Any, digits: int = BEST_DIGITS
                    ) -> dict[str, float]:
    """The best trial's parameters, rounded to ``digits`` significant digits."""
    try:
        best = study.best_trial
    except ValueError:
        raise ScenarioError(f"calibration '{cal.spec.name}' has no completed trial yet") \
            from None
    out: dict[str, float] = {}
    for name in cal.spec.parameters:
        value = best.params[name]
        out[name] = value if isinstance(value, int) else float(f"{value:.{digits}g}")
    return out


def overlay_yaml(cal: Calibration, study: Any, params: Mapping[str, float]) -> str:
    """The best parameters as a scenario overlay (nested YAML, commented)."""
    nested: dict[str, Any] = {}
    for name, value in params.items():
        set_path(nested, name, value)
    best = study.best_trial
    head = [
        f"# Calibrated parameters: {cal.spec.name} ({cal.path})",
        f"# best of {len(study.trials)} trials (trial {best.number}, objective "
        f"{best.value:.4g}); written {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.",
        "# Use: a scenario may `extends:` this file, or pass",
        "#   " + " ".join(f"--set {k}={v}" for k, v in params.items()),
        "# Ranges and priors:",
    ]
    for name, p in cal.spec.parameters.items():
        prior = p.prior if p.prior != "normal" else f"normal(mean {p.mean:g}, sd {p.sd:g})"
        head.append(f"#   {name}: [{p.low:g}, {p.high:g}] {prior}"
                    + (f" - {p.source}" if p.source else ""))
    return "\n".join(head) + "\n" + yaml.safe_dump(nested, sort_keys=False)


def fit_check(cal: Calibration, params: Mapping[str, float], *, workers: int | None = None,
              replications: int | None = None, progress: bool = False) -> Validation:
    """Targets vs fitted: rerun the target arms at ``params`` with more replications."""
    studies = [cal.studies[s] for s in cal.arms()]
    outcomes = {s: [t.outcome for t in cal.targets if t.study.name == s] for s in cal.arms()}
    return run_validation(studies, None, RunOptions(workers=workers, progress=progress),
                          replications=replications or cal.spec.report_replications,
                          overrides={**cal.spec.set, **params}, outcomes=outcomes)


NEAR_BEST_LEVEL = 0.5
"""The near-best set is a likelihood-ratio region of this level: objective <= best + chi2_k."""

EDGE_SHARE = 0.05
"""A parameter is flagged at a bound when its fit lies within this share of the range's edge."""

WEAK_SHARE = 0.5
"""A parameter is weakly identified when its near-best 5-95% range spans more of its range."""

JOINT_R = 0.7
"""Two parameters are identified only jointly when near-best fits correlate beyond this."""


def near_best(cal: Calibration, study: Any) -> pd.DataFrame:
    """Completed trials within chi2_k(``NEAR_BEST_LEVEL``) of the best objective, best first.

    k is the number of fitted parameters: with the objective a -2 log likelihood, the set
    is about a 50% likelihood-ratio region (for k = 6, best + 5.35), a plausible region of
    fits rather than posterior draws (TPE samples cluster near the optimum). Columns:
    trial, objective (:data:`sim.uncertainty.NOT_PARAMETERS`: a compare file's
    ``psa_empirical`` ignores them), then one per parameter at full precision.
    """
    from scipy import stats

    names = list(cal.spec.parameters)
    done = [t for t in study.trials if t.value is not None and t.value < OBJECTIVE_FAILED]
    if not done:
        raise ScenarioError(f"calibration '{cal.spec.name}' has no completed trial yet")
    frame = pd.DataFrame([{"trial": t.number, "objective": t.value,
                           **{n: t.params[n] for n in names}} for t in done])
    limit = frame["objective"].min() + stats.chi2.ppf(NEAR_BEST_LEVEL, len(names))
    return (frame[frame["objective"] <= limit].sort_values(["objective", "trial"])
            .reset_index(drop=True))


def _position(spec: ParameterSpec, values: np.ndarray) -> np.ndarray:
    """Where values lie in a parameter's range, 0 (low) to 1 (high); log scale if log-uniform."""
    if spec.prior == "log_uniform":
        return (np.log(values) - math.log(spec.low)) / (math.log(spec.high) - math.log(spec.low))
    return (values - spec.low) / (spec.high - spec.low)


def identifiability(cal: Calibration, near: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: best, near-best median and 5-95% range, its share of the range, flags.

    ``weak``: the 5-95% range spans more than ``WEAK_SHARE`` of the range. ``at_bound``
    ("low", "high", both or ""): the best value or the near-best 5th (95th) percentile lies
    within ``EDGE_SHARE`` of the low (high) edge, so the data push the fit against the
    range: the docs must say why.
    """
    rows = []
    for name, spec in cal.spec.parameters.items():
        values = near[name].to_numpy(dtype=float)
        best = values[0]
        p5, median, p95 = np.percentile(values, [5, 50, 95])
        pos_best, pos5, pos95 = _position(spec, np.array([best, p5, p95]))
        edges = [edge for edge, hit in (("low", min(pos_best, pos5) <= EDGE_SHARE),
                                        ("high", max(pos_best, pos95) >= 1 - EDGE_SHARE)) if hit]
        rows.append({"parameter": name, "best": best, "median": median, "p5": p5, "p95": p95,
                     "range_share": float(pos95 - pos5), "weak": bool(pos95 - pos5 > WEAK_SHARE),
                     "at_bound": ", ".join(edges)})
    return pd.DataFrame(rows)


def joint_pairs(cal: Calibration, near: pd.DataFrame) -> list[tuple[str, str, float]]:
    """Parameter pairs whose near-best fits correlate with abs(r) > ``JOINT_R``."""
    names = [n for n in cal.spec.parameters if near[n].nunique() > 1]
    if len(near) < 3 or len(names) < 2:
        return []
    r = near[names].astype(float).corr().to_numpy()
    return [(a, b, float(r[i, j])) for i, a in enumerate(names) for j, b in enumerate(names)
            if i < j and abs(r[i, j]) > JOINT_R]


@dataclass
class Fit:
    """The outcome of a calibration: best parameters, their recheck, near-best spread, files."""

    params: dict[str, float]
    check: Validation
    near_best: pd.DataFrame
    identifiability: pd.DataFrame
    paths: dict[str, Path]


def write_outputs(cal: Calibration, study: Any, *, workers: int | None = None,
                  progress: bool = False) -> Fit:
    """Write best.yaml, trials.csv and near_best.csv; recheck the fit (report: sim.report)."""
    params = best_parameters(cal, study)
    check = fit_check(cal, params, workers=workers, progress=progress)
    out = cal.out_dir
    out.mkdir(parents=True, exist_ok=True)
    paths = {"overlay": out / "best.yaml", "trials": out / "trials.csv",
             "near_best": out / "near_best.csv"}
    paths["overlay"].write_text(overlay_yaml(cal, study, params))
    frame = study.trials_dataframe(attrs=("number", "value", "state", "params",
                                          "datetime_start", "duration"))
    frame.to_csv(paths["trials"], index=False)
    near = near_best(cal, study)
    near.to_csv(paths["near_best"], index=False)
    return Fit(params=params, check=check, near_best=near,
               identifiability=identifiability(cal, near), paths=paths)
