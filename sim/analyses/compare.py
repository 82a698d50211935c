"""Compare program designs: paired runs, costs, QALYs, ICERs, PSA, CEAC and EVPI.

A compare file (``scenarios/compare/*.yaml``; see docs/planners.md)::

    name: all_designs
    designs:                                   # scenario files, relative to this file
      - ../designs/usual_care.yaml
      - ../designs/hybrid_kickoff.yaml
    comparator: usual_care                     # a design's program.name
    replications: 30                           # PSA iterations, each its own seed
    seed: 20240601
    horizon_days: 365                          # optional: run.days of every design
    horizon: lifetime                          # ICERs/NMB on lifetime or programme figures
    set: {population.size: 2000}               # optional: overrides for every design
    thresholds: [20000, 30000]                 # willingness to pay, currency per QALY
    ceac_max_wtp: 50000                        # CEAC / EVPI x axis: 0 .. this
    psa:                                       # uncertain parameters (sim.uncertainty)
      economics.staff_cost_per_hour: {dist: gamma, mean: 45, sd: 9}
    psa_empirical:                             # optional: whole rows of a table, jointly
      file: ../../experiments/calibration/v2/near_best.csv

Replication r of every design runs with the same seed, ``derive_seed(seed, r)``, and the
same PSA draw (common random numbers, paired): differences between designs are taken
replication by replication. Each replication is one PSA iteration; its spread therefore
holds both parameter uncertainty and simulation noise. An empirical table (``psa_empirical``)
gives each replication one whole row (the same for every design), so the correlations
between its parameters (a calibration's near-best fits) are kept.

Everything is validated before anything runs, with errors naming file, line and key path.

References:
    NICE methods guide (incremental analysis, 3.5% discounting, GBP 20,000-30,000/QALY);
    Briggs, Claxton & Sculpher 2006 (PSA, CEAC, EVPI); Law 2015 (common random numbers).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.analyses import cea
from sim.analyses.decision import DecisionResult, decide
from sim.analyses.paired import paired_differences
from sim.core import economics as econ
from sim.core.outcomes import (
    LIFETIME_EVENTS,
    MEASURED_AT_BASELINE_AND_END,
    OUTCOMES,
    subgroup_label,
)
from sim.core.rng import replication_seeds
from sim.engine.options import RunOptions
from sim.engine.store import Results, ResultsStore, load_results
from sim.engine.tasks import RunReport, Task, run_tasks
from sim.params.errors import ScenarioError
from sim.params.located import Located, Strict
from sim.params.scenario import (
    Scenario,
    check_parameter_path,
    load_scenario,
    parameter_field,
    section_type,
)
from sim.params.yamlio import read_yaml
from sim.runner import package_versions, scenario_hash
from sim.uncertainty import (
    EMPIRICAL,
    Distribution,
    EmpiricalSpec,
    EmpiricalTable,
    check_correlation,
    draw_parameters,
    read_empirical,
)

_EXAMPLES = {Distribution: "{dist: gamma, mean: 45, sd: 9}",
             EmpiricalSpec: "{file: near_best.csv}"}
"""What a PSA entry looks like (shown when something else is given)."""

EMPIRICAL_ROW = "psa_empirical_row"
"""Runs-table column: the row of the ``psa_empirical`` table a replication drew (0-based, as
``pandas.read_csv(file).iloc[row]``)."""

INTERVAL = 0.95
"""Level of every interval in a comparison (percentiles over replications)."""

TIMECOURSE = {
    "adherent_share": ("Adherent (PDC >= 0.8)", "share of patients"),
    "hba1c_mean": ("HbA1c", "%"),
    "utility_mean": ("Quality of life (EQ-5D utility)", "utility"),
    "engagement_mean": ("IM engagement", "0-1"),
}
"""Time-series columns drawn as time courses with bands: label, unit."""

SUBGROUP_LABELS = {
    "hba1c_lt7.5": ("Baseline HbA1c", "< 7.5%"),
    "hba1c_7.5to8.5": ("Baseline HbA1c", "7.5-8.5%"),
    "hba1c_ge8.5": ("Baseline HbA1c", ">= 8.5%"),
    "literacy_low": ("Digital literacy", "low (< 0.5)"),
    "literacy_high": ("Digital literacy", "high (>= 0.5)"),
}
"""Subgroups of ``sim.core.outcomes.SUBGROUPS`` as (grouping, band) for reports."""


def subgroup_bands(runs: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """(grouping, band) of every subgroup all the runs report, in the summary's order.

    The default bands, and those of a user's HbA1c cut-offs (``run.subgroups.hba1c``).
    """
    out: dict[str, tuple[str, str]] = {}
    for col in runs.columns:
        sub = col.removeprefix("share_")
        if sub == col or runs[col].isna().any():
            continue
        if sub in SUBGROUP_LABELS:
            out[sub] = SUBGROUP_LABELS[sub]
        elif (label := subgroup_label(sub)) is not None:
            out[sub] = ("Baseline HbA1c", label.removeprefix("baseline HbA1c "))
    return out


SUBGROUP_MEASURES = {
    "hba1c_change": ("HbA1c change", "%-points", "lower"),
    "utility_change": ("QoL change", "utility", "higher"),
    "pdc_end": ("Mean PDC at end", "proportion", "higher"),
    "qalys_per_patient": ("QALYs, discounted", "QALY per patient", "higher"),
    "cost_per_patient_discounted": ("Cost, discounted", "currency per patient", "lower"),
}
"""Per-subgroup summary outputs (``{measure}_{subgroup}``): label, unit, better."""

FORBIDDEN_SET = {
    "run.days": "use horizon_days",
    "run.seed": "use seed (the comparison's root seed)",
    "run.replications": "use replications",
    "program.name": "each design file names its own program",
}


@dataclass(frozen=True)
class OutcomeRow:
    """A row of the side-by-side table: summary key, label, unit, better, kind."""

    key: str
    label: str
    unit: str
    better: str
    kind: str  # share, pp, hba1c, utility, money, qaly, plain


def outcome_rows(currency: str, thresholds: Sequence[float], healthcare: bool = False, *,
                 horizon_days: int = 365) -> list[OutcomeRow]:
    """The side-by-side table's rows (health first, then costs, QALYs and net benefit).

    Health at the end of each programme (while it still acts), at one year (or the horizon,
    if shorter), and averaged over the horizon (AUC), so a programme whose effect fades after
    it closes is not read as doing nothing.
    """
    late = ("1y", "at one year") if horizon_days >= 365 else ("end", f"at day {horizon_days}")
    adherent = "Adherent (PDC >= 0.8)"
    rows = [
        OutcomeRow("adherent_share_programme_end", f"{adherent} at programme end",
                   "share of patients", "higher", "share"),
        OutcomeRow(f"adherent_share_{late[0]}", f"{adherent} {late[1]}", "share of patients",
                   "higher", "share"),
        OutcomeRow("adherent_share_auc", f"{adherent}, {horizon_days}-day average",
                   "share of patients (AUC per patient-year)", "higher", "share"),
        OutcomeRow(f"pdc_mean_{late[0]}", f"Mean PDC {late[1]}", "proportion of days covered",
                   "higher", "share"),
        OutcomeRow("hba1c_mean_programme_end", "True HbA1c at programme end", "%", "lower",
                   "hba1c"),
        OutcomeRow("hba1c_change", f"HbA1c change from baseline to day {horizon_days}",
                   "%-points", "lower", "hba1c"),
        OutcomeRow("hba1c_auc", f"True HbA1c, {horizon_days}-day average", "% (AUC per "
                   "patient-year)", "lower", "hba1c"),
        OutcomeRow("utility_change", f"QoL change from baseline to day {horizon_days}",
                   "EQ-5D utility", "higher", "utility"),
        OutcomeRow("utility_auc", f"QoL, {horizon_days}-day average",
                   "EQ-5D utility (AUC per patient-year)", "higher", "utility"),
        OutcomeRow("distress_change", "Diabetes distress change from baseline",
                   "PAID points (0-100)", "lower", "distress"),
        OutcomeRow("engagement_end", OUTCOMES["engagement_end"].label, "0-1", "higher",
                   "plain"),
        OutcomeRow("attended_any_share", OUTCOMES["attended_any_share"].label,
                   "share of patients", "higher", "share"),
        OutcomeRow("program_cost_per_patient", "Program cost", f"{currency} per patient",
                   "lower", "money"),
        OutcomeRow("medication_cost_per_patient", "Medication cost", f"{currency} per patient",
                   "lower", "money"),
    ]
    if healthcare:
        rows.append(OutcomeRow("healthcare_cost_per_patient", "Healthcare cost",
                               f"{currency} per patient", "lower", "money"))
    rows += [
        OutcomeRow("cost_per_patient_discounted", "Total cost, discounted",
                   f"{currency} per patient", "lower", "money"),
        OutcomeRow("qalys_per_patient", "QALYs, discounted", "QALY per patient", "higher",
                   "qaly"),
    ]
    for t in thresholds:
        rows.append(OutcomeRow(nmb_key(t), f"Net benefit at {t / 1000:g}k/QALY",
                               f"{currency} per patient", "higher", "money"))
    return rows


LIFETIME_ROWS = (
    ("lifetime_cost_discounted", "money"), ("lifetime_qalys_discounted", "qaly"),
    ("lifetime_life_years", "plain"), ("lifetime_life_years_discounted", "plain"),
    ("lifetime_hba1c_effect", "hba1c"), ("lifetime_deaths_per_1000", "per1000"),
    *((f"lifetime_events_per_1000_{e}", "per1000") for e in LIFETIME_EVENTS),
)
"""Rows of the lifetime table (summary key, kind); labels and units from OUTCOMES."""

HORIZON_KEYS = {"lifetime": ("lifetime_cost_discounted", "lifetime_qalys_discounted"),
                "programme": ("cost_per_patient_discounted", "qalys_per_patient")}
"""Summary keys (discounted cost, QALYs) behind ICERs and NMB, by compare ``horizon``."""


def lifetime_rows(currency: str, thresholds: Sequence[float]) -> list[OutcomeRow]:
    """The lifetime table's rows (run with the lifetime stage; ``sim.runner``).

    With net benefit at ``thresholds`` (give them when ICERs and NMB use the lifetime horizon).
    """
    rows = [OutcomeRow(key, OUTCOMES[key].label,
                       f"{currency} per patient" if kind == "money" else OUTCOMES[key].unit,
                       OUTCOMES[key].better, kind) for key, kind in LIFETIME_ROWS]
    return rows + [OutcomeRow(nmb_key(t), f"Net benefit at {t / 1000:g}k/QALY",
                              f"{currency} per patient", "higher", "money")
                   for t in thresholds]


def nmb_key(threshold: float) -> str:
    """Column name of the net monetary benefit at a threshold."""
    return f"nmb_at_{threshold:g}"


# =========================================================================== the file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PsaCorrelation(_Strict):
    """Related PSA parameters: drawn through a Gaussian copula with this correlation."""

    parameters: list[str] = Field(min_length=2, description="PSA parameters, in matrix order")
    matrix: list[list[float]] = Field(description="correlation matrix (symmetric, 1 on the "
                                      "diagonal, positive definite)")


class CompareSpec(Strict):
    """The whole compare file."""

    name: str = Field("", description="comparison name (report title)")
    description: str = Field("", description="free text shown under the report title")
    designs: list[str] = Field(min_length=2, description="design scenario files, relative "
                               "to the compare file; at least two, one the comparator")
    comparator: str = Field(description="program.name of the comparator design, e.g. "
                            "usual_care")
    replications: int = Field(20, ge=2, le=100_000,
                              description="replications (PSA iterations) per design")
    seed: int = Field(ge=0, le=2**63 - 1, description="root seed of every run seed and draw")
    horizon_days: int | None = Field(None, ge=1, le=36_500,
                                     description="time horizon: run.days of every design "
                                     "(default: the designs' own, which must agree)")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="overrides for every design, by dotted path")
    thresholds: list[float] = Field([20_000.0, 30_000.0], min_length=1, max_length=6,
                                    description="willingness-to-pay thresholds (currency "
                                    "per QALY); the first is the primary one")
    ceac_max_wtp: float = Field(50_000.0, gt=0, le=1e9,
                                description="CEAC and EVPI drawn from 0 to this threshold")
    horizon: Literal["lifetime", "programme"] = Field(
        "lifetime", description="costs and QALYs behind ICERs and NMB: lifetime (agent-based "
        "stage + lifetime stage; NICE reference case) or programme (agent-based stage only)")
    psa: dict[str, Distribution] = Field(default_factory=dict,
                                         description="uncertain parameters and their "
                                         "distributions, by dotted path")
    psa_correlation: PsaCorrelation | None = Field(
        None, description="rank correlation of related PSA parameters (Gaussian copula)")
    psa_empirical: EmpiricalSpec | None = Field(
        None, description="a table of joint draws (e.g. a calibration's near_best.csv): each "
        "replication applies one whole row; parameters not also in psa")


@dataclass(frozen=True)
class Design:
    """One design of a comparison.

    Attributes:
        name: its ``program.name``.
        file: the scenario file it came from.
        scenario: the resolved scenario (set and horizon applied) as a dict.
        sha256: hash of ``scenario`` (canonical JSON, as in run provenance).
        label: plain words for planners: the ``description`` the design file itself writes
            (not one it extends), else its name. Untrusted text: reports escape it.
    """

    name: str
    file: str
    scenario: dict[str, Any] = field(repr=False)
    sha256: str = ""
    label: str = ""


@dataclass(frozen=True)
class Comparison:
    """A validated comparison: designs x replications, with seeds and PSA draws."""

    spec: CompareSpec
    designs: list[Design]
    draws: pd.DataFrame  # one row per replication, one column per PSA parameter
    path: Path | None = None
    text: str = ""
    empirical: EmpiricalTable | None = None  # the psa_empirical table, read and checked

    @property
    def names(self) -> list[str]:
        """Design names, in file order."""
        return [d.name for d in self.designs]

    @property
    def comparator(self) -> str:
        """The comparator's name."""
        return self.spec.comparator

    @property
    def labels(self) -> dict[str, str]:
        """Plain-words label of each design, by name (the name when the file gives none)."""
        return {d.name: d.label or d.name for d in self.designs}

    @property
    def seeds(self) -> list[int]:
        """Run seed of each replication (shared by every design)."""
        return replication_seeds(self.spec.seed, self.spec.replications)

    @property
    def first(self) -> dict[str, Any]:
        """The first design's resolved scenario (shared settings are read from it)."""
        return self.designs[0].scenario

    @property
    def currency(self) -> str:
        """Currency of every cost."""
        return str(self.first["economics"]["currency"])

    @property
    def n_runs(self) -> int:
        """Runs in the comparison."""
        return len(self.designs) * self.spec.replications

    @property
    def empirical_rows(self) -> list[int]:
        """The ``psa_empirical`` row each replication drew (empty without a table)."""
        if self.empirical is None:
            return []
        return [int(i) for i in self.empirical.rows(self.spec.seed, self.spec.replications)]

    def empirical_record(self) -> dict[str, Any] | None:
        """The ``psa_empirical`` table as manifests and provenance keep it (None without)."""
        if self.empirical is None:
            return None
        return {**self.empirical.record(), "file": _display_path(self.empirical.path)}

    @property
    def lifetime(self) -> bool:
        """Whether the designs run the lifetime stage (shared by every design)."""
        return bool(self.first["lifetime"]["enabled"])

    @property
    def ce_keys(self) -> tuple[str, str]:
        """Summary keys (discounted cost, QALYs) behind ICERs and NMB (``spec.horizon``)."""
        return HORIZON_KEYS[self.spec.horizon]

    def describe(self) -> str:
        """A short plan."""
        s = self.first
        n = len(self.draws.columns)
        psa = f", {n} PSA parameters" if n else ", no PSA parameters"
        if self.empirical is not None:
            psa += f" ({len(self.empirical.columns)} as whole rows of {self.empirical.path.name})"
        return (f"{len(self.designs)} designs x {self.spec.replications} replications = "
                f"{self.n_runs:,} runs of {s['population']['size']:,} patients over "
                f"{s['run']['days']:,} days (comparator {self.comparator}{psa})")

    def tasks(self) -> list[Task]:
        """The runs: for each replication, each design (same seed and draw across designs)."""
        draws = self.draws.to_dict("records")
        rows = self.empirical_rows
        out = []
        for r, seed in enumerate(self.seeds):
            for design in self.designs:
                meta = {"design": design.name, "replication": r, **draws[r],
                        **({EMPIRICAL_ROW: rows[r]} if rows else {})}
                out.append(Task(run_id=len(out), scenario=design.scenario, seed=seed,
                                overrides=dict(draws[r]), meta=meta))
        return out

    def sha256(self) -> str:
        """Hash of everything the runs depend on."""
        payload = {"spec": self.spec.model_dump(mode="json"),
                   "designs": [[d.name, d.sha256] for d in self.designs]}
        if self.empirical is not None:  # the table's content, not only its name
            payload["psa_empirical_sha256"] = self.empirical.sha256
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def manifest(self) -> dict[str, Any]:
        """Manifest entries of the comparison's results store."""
        params = list(self.draws.columns)
        row = [EMPIRICAL_ROW] if self.empirical is not None else []
        return {
            "kind": "compare", "name": self.spec.name,
            "compare_file": str(self.path) if self.path else None,
            "compare_text": self.text, "compare_sha256": self.sha256(),
            "seed": self.spec.seed, "comparator": self.comparator,
            "designs": [{"name": d.name, "file": d.file, "scenario_sha256": d.sha256}
                        for d in self.designs],
            "psa_empirical": self.empirical_record(),
            "columns": {"levers": ["design"], "parameters": params,
                        "metadata": ["design", "replication", *params, *row]},
        }


# --------------------------------------------------------------------------- locating errors


# --------------------------------------------------------------------------- schema lookups


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists and distributions kept whole)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        sub = parameter_field(path)
        is_section = sub is not None and section_type(sub.annotation) is not None and \
            "unit" not in (sub.json_schema_extra or {})
        if isinstance(value, dict) and (is_section or sub is None):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


# --------------------------------------------------------------------------- loading


def load_comparison(source: str | Path, *, comparator: str | None = None,
                    replications: int | None = None, seed: int | None = None) -> Comparison:
    """Read and validate a compare file; resolve designs, seeds and PSA draws.

    Args:
        source: the compare YAML file.
        comparator: replaces the file's comparator (CLI ``--comparator``).
        replications: replaces the file's replications (CLI ``--replications``).
        seed: replaces the file's seed (CLI ``--seed``).

    Raises:
        ScenarioError: naming the file, line and key path of the first problem.
    """
    path = Path(source)
    data, lines = read_yaml(path)
    where = Located(str(path), lines, CompareSpec, _EXAMPLES)
    if "designs" not in data:
        raise where.error("missing required key 'designs' (a list of design scenario "
                          "files); is this a scenario file? Give several design files, "
                          "or one compare file", ())
    data = _apply_cli(data, comparator, replications, seed, where)
    try:
        spec = CompareSpec.model_validate(data)
    except ValidationError as exc:
        raise where.pydantic(exc) from None
    text = path.read_text(encoding="utf-8-sig")
    _item_lines(text, spec.designs, ("designs",), where)
    files = [(path.parent / f, ("designs", str(i))) for i, f in enumerate(spec.designs)]
    return _resolve(spec, files, where, path=path, text=text)


def _item_lines(text: str, items: list[str], loc: tuple[str, ...], where: Located) -> None:
    """Record the line of each list item (the YAML reader records mapping keys only)."""
    line = where.line(loc) or 1
    rows = text.splitlines()
    for i, item in enumerate(items):
        for n in range(line - 1, len(rows)):
            if item in rows[n]:
                where.lines[(*loc, str(i))] = (where.label, n + 1)
                line = n + 1
                break


def comparison_from_designs(files: Sequence[str | Path], *, comparator: str | None = None,
                            replications: int | None = None, seed: int | None = None,
                            name: str = "") -> Comparison:
    """A comparison of design files given on the command line (no PSA).

    Args:
        files: design scenario files (at least two).
        comparator: the comparator's program.name (default ``usual_care`` when present).
        replications: replications per design (default 20).
        seed: root seed (default 1).
        name: comparison name.
    """
    if len(files) < 2:
        raise ScenarioError("give at least two design files (one of them the comparator), or "
                            "one compare file with a designs: list")
    where = Located("command line", {}, CompareSpec, _EXAMPLES)
    data: dict[str, Any] = {"name": name or "comparison", "designs": [str(f) for f in files],
                            "comparator": comparator or "usual_care",
                            "replications": replications or 20,
                            "seed": 1 if seed is None else seed}
    try:
        spec = CompareSpec.model_validate(data)
    except ValidationError as exc:
        raise where.pydantic(exc) from None
    return _resolve(spec, [(Path(f), ("designs", str(i))) for i, f in enumerate(files)], where,
                    comparator_given=comparator is not None)


def _apply_cli(data: dict[str, Any], comparator: str | None, replications: int | None,
               seed: int | None, where: Located) -> dict[str, Any]:
    data = dict(data)
    for key, value in (("comparator", comparator), ("replications", replications),
                       ("seed", seed)):
        if value is not None:
            data[key] = value
            where.lines[(key,)] = (f"--{key}", None)
    return data


def _resolve(spec: CompareSpec, files: list[tuple[Path, tuple[str, ...]]], where: Located, *,
             path: Path | None = None, text: str = "",
             comparator_given: bool = True) -> Comparison:
    for key in spec.set:
        check_parameter_path(where, key, ("set", key))
        if key in FORBIDDEN_SET:
            raise where.error(f"'{key}' cannot be set here: {FORBIDDEN_SET[key]}", ("set", key))
    overrides = dict(spec.set)
    if spec.horizon_days is not None:
        overrides["run.days"] = spec.horizon_days
    for i, t in enumerate(spec.thresholds):
        if t < 0:
            raise where.error(f"thresholds must be >= 0 (currency per QALY), got {t:g}",
                              ("thresholds", str(i)))

    designs: list[Design] = []
    scenarios: list[Scenario] = []
    seen: dict[str, str] = {}
    for file, loc in files:
        if not file.is_file():
            raise where.error(f"design file not found: {file}", loc)
        try:
            scenario = load_scenario(file, overrides)
        except ScenarioError as exc:
            if exc.file and exc.file.startswith("--set "):
                key = exc.file.removeprefix("--set ").split("=", 1)[0]
                raise where.error(f"{exc.message} (applied to {file.name})",
                                  ("set", key) if key in spec.set else ("horizon_days",)) \
                    from None
            raise ScenarioError(f"design file {file} (named at {where.label}, line "
                                f"{where.line(loc)}) is invalid: {exc.message}",
                                file=exc.file, line=exc.line, path=exc.path) from None
        name = scenario.program.name
        if name in seen:
            raise where.error(f"design files {seen[name]} and {file} share the program name "
                              f"'{name}'; give each a distinct program.name", loc)
        seen[name] = str(file)
        scenarios.append(scenario)
        designs.append(Design(name=name, file=_display_path(file), scenario=scenario.model_dump(
            mode="json"), sha256=scenario_hash(scenario), label=_own_description(file)))

    names = [d.name for d in designs]
    if spec.comparator not in names:
        close = difflib.get_close_matches(spec.comparator, names, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        how = "" if comparator_given else " (pass --comparator NAME)"
        raise where.error(f"comparator '{spec.comparator}' is not one of the designs{hint}"
                          f"{how}. Designs (program.name): {', '.join(names)}",
                          ("comparator",))
    _check_shared(designs, where, spec)
    if spec.horizon == "lifetime" and not scenarios[0].lifetime.enabled:
        raise where.error("horizon 'lifetime' needs the lifetime stage, but the designs set "
                          "lifetime.enabled: false; set it to true or give horizon: "
                          "programme", ("horizon",))
    table = (read_empirical(spec.psa_empirical, path.parent if path else Path(), where)
             if spec.psa_empirical else None)
    spec, draws = _psa_draws(spec, scenarios, where, table)
    return Comparison(spec=spec, designs=designs, draws=draws, path=path, text=text,
                      empirical=table)


def _own_description(file: Path) -> str:
    """The ``description`` a design file writes itself (one line; "" if it only extends one)."""
    data, _ = read_yaml(file)
    text = data.get("description")
    return " ".join(text.split()) if isinstance(text, str) else ""


def _display_path(path: Path) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


SHARED = ("population", "run.days", "run.record_every_days", "economics.currency",
          "economics.price_year", "economics.discount_rate_costs",
          "economics.discount_rate_effects", "lifetime.enabled", "lifetime.horizon_age_years",
          "lifetime.discount_rate_costs", "lifetime.discount_rate_effects",
          "lifetime.hba1c_progression", "lifetime.cost_set", "lifetime.utility_set",
          "lifetime.utility_combination", "lifetime.risk_factors", "lifetime.risk_multiplier")
"""Settings every design must share, or the comparison would not be like for like."""


def _check_shared(designs: list[Design], where: Located, spec: CompareSpec) -> None:
    first = designs[0]
    for key in SHARED:
        ref = _get(first.scenario, key)
        for d in designs[1:]:
            value = _get(d.scenario, key)
            if value != ref:
                differs = key
                if isinstance(ref, dict):
                    flat_a, flat_b = flatten(ref, key + "."), flatten(value, key + ".")
                    differs = next(k for k in flat_a if flat_a[k] != flat_b.get(k))
                    ref, value = flat_a[differs], flat_b.get(differs)
                fix = ("horizon_days" if differs == "run.days" else f"set: {{{differs}: ...}}")
                raise where.error(
                    f"designs {first.name} and {d.name} differ in {differs} ({ref!r} vs "
                    f"{value!r}); designs compared side by side must share it. Make the "
                    f"design files agree or give {fix} in the compare file", ("designs",))


def _get(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for key in dotted.split("."):
        node = node[key]
    return node


def _psa_draws(spec: CompareSpec, scenarios: list[Scenario], where: Located,
               table: EmpiricalTable | None = None) -> tuple[CompareSpec, pd.DataFrame]:
    """Draw the PSA parameters per replication; check each draw against every design.

    Returns the spec with distributions written around the default (``mean: default``,
    ``relative:``) resolved at the designs' common value, and the draws (the parameters of
    ``table``, the ``psa_empirical`` table, as one whole row per replication).
    """
    integer = set()
    resolved = {}
    for name in spec.psa:
        loc = ("psa", name)
        annotation, value = _uncertain(name, loc, spec, scenarios, where)
        if annotation is int:
            integer.add(name)
        try:
            resolved[name] = spec.psa[name].at_default(value)
        except ValueError as exc:
            raise where.error(str(exc), loc) from None
    for i, name in enumerate(table.columns if table else ()):
        if name in spec.psa:
            raise where.error(f"'{name}' is both in psa and a column of the psa_empirical "
                              f"table ({table.path.name}); keep it in one", ("psa", name))
        listed = spec.psa_empirical is not None and spec.psa_empirical.columns is not None
        annotation, _ = _uncertain(name, ("psa_empirical", "columns", str(i)) if listed
                                   else ("psa_empirical", "file"), spec, scenarios, where)
        if annotation is int:  # whole numbers already (read_empirical): stored as int
            integer.add(name)
    spec = spec.model_copy(update={"psa": resolved})
    rows = draw_parameters(spec.psa, spec.seed, spec.replications,
                           correlation=_correlation(spec, where), empirical=table)
    for row in rows:
        for name in integer:
            row[name] = int(round(row[name]))
    frame = pd.DataFrame(rows, index=pd.RangeIndex(spec.replications, name="replication"))
    if len(frame.columns):
        _check_draws(rows, scenarios, where, table, spec.seed)
    return spec, frame


def _uncertain(name: str, loc: tuple[str, ...], spec: CompareSpec, scenarios: list[Scenario],
               where: Located) -> tuple[Any, Any]:
    """Check a PSA parameter; its annotation and the value every design gives it.

    It must be a numeric scenario parameter, not a program lever or run setting, not in
    ``set``, and the designs must agree on it (a draw replaces it in every design).
    """
    section = loc[0]
    annotation = check_parameter_path(where, name, loc, numeric_for="can take a distribution")
    if name.startswith(("program.", "run.")):
        raise where.error(f"'{name}' is a program lever or run setting: it tells the "
                          "designs apart (or sets how they run), so it cannot be an "
                          "uncertain PSA parameter", loc)
    if name in spec.set:
        raise where.error(f"'{name}' is both in set and in {section}; keep it in one", loc)
    values = {s.program.name: _get(s.model_dump(mode="json"), name) for s in scenarios}
    if len(set(values.values())) > 1:
        raise where.error(f"the designs set different values of '{name}' ({values}); a "
                          f"PSA draw would replace them all with one value. Remove it "
                          f"from {section}, or make the designs agree", loc)
    return annotation, next(iter(values.values()))


def _check_draws(rows: list[dict[str, Any]], scenarios: list[Scenario], where: Located,
                 table: EmpiricalTable | None, seed: int) -> None:
    """Every replication's draw must be valid in every design (located at its entry)."""
    drawn = table.rows(seed, len(rows)) if table else None
    for r, row in enumerate(rows):
        for s in scenarios:
            try:
                s.with_overrides(row)
            except ScenarioError as exc:
                culprit = next((k for k in row if exc.path and (
                    exc.path == k or exc.path.startswith(k.rsplit(".", 1)[0]))), None)
                value = row.get(culprit) if culprit else None
                if table is not None and drawn is not None and culprit in table.columns:
                    line = table.lines[drawn[r]]
                    raise where.error(
                        f"the draw for replication {r} ({culprit} = {value!r}, row "
                        f"{drawn[r]} of {table.path}, line {line}) is invalid for design "
                        f"{s.program.name}: {exc.message}", ("psa_empirical", "file")) from None
                hint = (" Costs and durations need a distribution on [0, inf) such as gamma "
                        "or lognormal; for a normal, give min/max")
                raise where.error(
                    f"the draw for replication {r} ({culprit} = {value!r}) is invalid for "
                    f"design {s.program.name}: {exc.message}.{hint}",
                    ("psa", culprit) if culprit else ("psa",)) from None


def _correlation(spec: CompareSpec, where: Located) -> dict[str, Any] | None:
    """The checked ``psa_correlation`` (parameters in psa, a valid correlation matrix)."""
    corr = spec.psa_correlation
    if corr is None:
        return None
    for i, name in enumerate(corr.parameters):
        if name not in spec.psa:
            raise where.error(f"'{name}' is not a psa parameter; correlate only parameters "
                              "that have a distribution", ("psa_correlation", "parameters", str(i)))
    if len(set(corr.parameters)) != len(corr.parameters):
        raise where.error("a parameter is listed twice", ("psa_correlation", "parameters"))
    try:
        check_correlation(corr.matrix)
        if len(corr.matrix) != len(corr.parameters):
            raise ValueError(f"the matrix must be {len(corr.parameters)} x "
                             f"{len(corr.parameters)}, one row per parameter")
    except ValueError as exc:
        raise where.error(str(exc), ("psa_correlation", "matrix")) from None
    return corr.model_dump()


# =========================================================================== running


def run_comparison(comparison: Comparison, out_dir: str | Path,
                   options: RunOptions | None = None) -> RunReport:
    """Run every design x replication into a results store (time series kept).

    Raises:
        ScenarioError: the store exists (without ``resume``) or holds other runs, or its
            ``psa_empirical`` table has changed since (even in rows no replication drew).
    """
    options = options or RunOptions()
    store = ResultsStore(out_dir)
    if (options.resume or options.retry_failed) and store.exists():
        then = store.read_manifest().get("psa_empirical") or {}
        now = comparison.empirical_record() or {}
        if then.get("sha256") != now.get("sha256"):
            raise ScenarioError(
                f"cannot resume {store.path}: its psa_empirical table changed since it was "
                f"created ({then.get('file') or 'none'}, sha256 "
                f"{str(then.get('sha256'))[:12]} -> {now.get('file') or 'none'}, sha256 "
                f"{str(now.get('sha256'))[:12]}). Restore the table or start a new --out")
    return run_tasks(comparison.tasks(), out_dir, options, timeseries=True,
                     manifest=comparison.manifest())


# =========================================================================== analysis


@dataclass
class CompareResult:
    """The analysed comparison: every table the report shows (tidy pandas frames).

    Attributes:
        comparison: what was run.
        runs: one row per run of the complete replications (every design succeeded).
        outcomes: per design and outcome: level (mean, interval) and paired difference
            against the comparator (mean, percentile interval, t-interval of the mean,
            share of replications in which the design is better).
        icer: the incremental analysis (``sim.core.economics.icer_table``) on mean discounted
            cost and QALYs of the compare file's ``horizon`` (lifetime by default), with NMB
            and the probability of being cost-effective at each threshold.
        icer_programme: the same on the agent-based stage's (within-programme) figures.
        lifetime: the lifetime table (as ``outcomes``; empty without the lifetime stage).
        ce_plane: incremental cost and QALYs per replication and design.
        ceac: probability each design has the highest NMB, per threshold (sums to 1).
        ceaf: the design with the highest expected NMB per threshold.
        evpi: per-patient expected value of perfect information per threshold.
        timecourse: per design and day: mean and interval of each TIMECOURSE column.
        subgroups: per subgroup, design and measure: level and paired difference.
        psa: the PSA distributions with their 95% ranges and the realised draws.
        assumptions: every parameter that differs from the defaults in some design.
        economics: the economic settings (unit costs, discount rates) per design.
        headline: the key numbers of the summary (its words: ``sim.report.compare_words``).
        provenance: hashes, seeds, versions, command, timings.
        decision: tornado, threshold, two-way, EVPPI and budget-impact tables
            (``sim.analyses.decision``); None without PSA parameters or with too few
            replications for the metamodel.
    """

    comparison: Comparison
    runs: pd.DataFrame
    outcomes: pd.DataFrame
    icer: pd.DataFrame
    ce_plane: pd.DataFrame
    ceac: pd.DataFrame
    ceaf: pd.DataFrame
    evpi: pd.DataFrame
    timecourse: pd.DataFrame
    subgroups: pd.DataFrame
    psa: pd.DataFrame
    assumptions: pd.DataFrame
    economics: pd.DataFrame
    headline: dict[str, Any]
    provenance: dict[str, Any]
    rows: list[OutcomeRow] = field(default_factory=list)
    icer_programme: pd.DataFrame = field(default_factory=pd.DataFrame)
    lifetime: pd.DataFrame = field(default_factory=pd.DataFrame)
    lifetime_rows: list[OutcomeRow] = field(default_factory=list)
    decision: DecisionResult | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table, by export name."""
        headline = pd.DataFrame([{"key": k, "value": json.dumps(v, default=str)
                                  if isinstance(v, dict | list) else str(v)}
                                 for k, v in self.headline.items()])
        return {
            "headline": headline,
            "outcomes": self.outcomes, "incremental_analysis": self.icer,
            "incremental_analysis_programme": self.icer_programme,
            "lifetime_outcomes": self.lifetime,
            "ce_plane": self.ce_plane, "ceac": self.ceac, "ceaf": self.ceaf,
            "evpi": self.evpi, "timecourse": self.timecourse, "subgroups": self.subgroups,
            "psa_distributions": self.psa, "assumptions": self.assumptions,
            "economics": self.economics, "runs": self.runs,
            **(self.decision.tables() if self.decision else {}),
        }


def analyse(results: Results | str | Path, comparison: Comparison, *,
            command: str | None = None, report: RunReport | None = None,
            population: int | None = None, uptake: Sequence[float] = ()) -> CompareResult:
    """Analyse a comparison's results store.

    Args:
        results: the loaded store (or its directory).
        comparison: the comparison that filled it.
        command: the command line, for the provenance.
        report: the run report, for the provenance (timings, failures).
        population: eligible population, for the budget-impact table (none without it).
        uptake: uptake share per year, for the budget-impact table.

    Raises:
        ScenarioError: fewer than two complete replications.
    """
    res = results if isinstance(results, Results) else load_results(results)
    names, comp = comparison.names, comparison.comparator
    runs, complete = _complete_runs(res, comparison)
    healthcare = bool((runs["healthcare_cost_per_patient"].abs() > 0).any())
    thresholds, lifetime_nmb = comparison.spec.thresholds, comparison.spec.horizon == "lifetime"
    rows = outcome_rows(comparison.currency, () if lifetime_nmb else thresholds, healthcare,
                        horizon_days=comparison.first["run"]["days"])
    no_im = {d.name for d in comparison.designs if not has_im(d.scenario)}
    matched = _comparator_on_design_days(runs, res.timeseries, names, comp)
    outcomes = _outcomes(runs, rows, comparison, no_im, matched)
    ce_plane, ceac, ceaf, evpi, icer = _cost_effectiveness(runs, comparison,
                                                           comparison.ce_keys)
    icer_programme = _cost_effectiveness(runs, comparison, HORIZON_KEYS["programme"])[-1] \
        if comparison.spec.horizon != "programme" else icer
    life_rows = (lifetime_rows(comparison.currency, thresholds if lifetime_nmb else ())
                 if comparison.lifetime else [])
    lifetime = _outcome_table(runs, life_rows, names, comp) if life_rows else pd.DataFrame()

    timecourse = _timecourse(res, runs, names)
    timecourse = timecourse[~(timecourse["measure"].isin(IM_ONLY)
                              & timecourse["design"].isin(no_im))].reset_index(drop=True)
    subgroups = _subgroups(runs, names, comp)
    psa = _psa_table(comparison)
    assumptions, economics = _assumptions(comparison)
    headline = _headline(comparison, icer, ceac, ceaf, evpi, len(complete))
    provenance = _provenance(comparison, res, command, report, complete)
    return CompareResult(comparison=comparison, runs=runs, outcomes=outcomes, icer=icer,
                         ce_plane=ce_plane, ceac=ceac, ceaf=ceaf, evpi=evpi,
                         timecourse=timecourse, subgroups=subgroups, psa=psa,
                         assumptions=assumptions, economics=economics, headline=headline,
                         provenance=provenance, rows=rows, icer_programme=icer_programme,
                         lifetime=lifetime, lifetime_rows=life_rows,
                         decision=_decision(runs, comparison, population, uptake))


def _decision(runs: pd.DataFrame, comparison: Comparison, population: int | None,
              uptake: Sequence[float]) -> DecisionResult | None:
    """The decision tables, on the PSA parameters that vary (None if the sample is short)."""
    params = [p for p in comparison.draws.columns if runs[p].nunique() > 1]
    if not params or runs["replication"].nunique() < len(params) + 2:
        return None
    return decide(runs, comparison.names, comparison.comparator, params,
                  comparison.spec.thresholds, population=population, uptake=uptake,
                  keys=comparison.ce_keys)


def _complete_runs(res: Results, comparison: Comparison) -> tuple[pd.DataFrame, list[int]]:
    """The ok runs of the replications every design finished, and those replications.

    The runs carry NMB columns and come in replication x design order.
    """
    names, spec = comparison.names, comparison.spec
    runs = res.runs[res.runs["status"] == "ok"].copy()
    counts = runs.groupby("replication")["design"].nunique()
    complete = sorted(int(r) for r in counts[counts == len(names)].index)
    if len(complete) < 2:
        raise ScenarioError(
            f"only {len(complete)} replication(s) finished for every design; at least 2 are "
            "needed (see the error column of the runs table; rerun with --resume)")
    runs = runs[runs["replication"].isin(complete)].copy()
    cost_key, qaly_key = comparison.ce_keys
    for t in spec.thresholds:
        runs[nmb_key(t)] = econ.net_monetary_benefit(runs[cost_key], runs[qaly_key], t)
    runs["design"] = pd.Categorical(runs["design"], categories=names, ordered=True)
    runs = runs.sort_values(["replication", "design"]).reset_index(drop=True)
    runs["design"] = runs["design"].astype(str)
    return runs, complete


def _outcomes(runs: pd.DataFrame, rows: list[OutcomeRow], comparison: Comparison,
              no_im: set[str], matched: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The outcome table, blanked where an IM-only outcome means nothing."""
    comp = comparison.comparator
    outcomes = _outcome_table(runs, rows, comparison.names, comp, matched)
    im_rows = outcomes["outcome"].isin(IM_ONLY)
    outcomes.loc[im_rows & outcomes["design"].isin(no_im),
                 ["mean", "low", "high", "diff_mean", "diff_low", "diff_high",
                  "diff_ci_low", "diff_ci_high", "p_better"]] = np.nan
    if comp in no_im:  # a difference from "no IM group" means nothing
        outcomes.loc[im_rows, ["diff_mean", "diff_low", "diff_high", "diff_ci_low",
                               "diff_ci_high", "p_better"]] = np.nan
    return outcomes


def _cost_effectiveness(runs: pd.DataFrame, comparison: Comparison,
                        keys: tuple[str, str]) -> tuple[pd.DataFrame, ...]:
    """CE plane, CEAC, CEAF, EVPI and the ICER table (with NMB and probability columns).

    All on the summary keys ``keys`` (discounted cost, QALYs).
    """
    spec, names, comp = comparison.spec, comparison.names, comparison.comparator
    wide_cost = _wide(runs, keys[0], names)
    wide_qaly = _wide(runs, keys[1], names)
    costs, qalys = wide_cost.to_numpy(), wide_qaly.to_numpy()
    grid = np.unique(np.concatenate([
        np.linspace(0.0, spec.ceac_max_wtp, 101), np.asarray(spec.thresholds, dtype=float)]))
    ceac = cea.ceac(costs, qalys, grid, names)
    ceaf = cea.ceaf(costs, qalys, grid, names)
    evpi = cea.evpi(costs, qalys, grid)
    ce_plane = cea.ce_plane_points(costs, qalys, names.index(comp), names=names)
    ce_plane["replication"] = np.asarray(wide_cost.index)[ce_plane["draw"].to_numpy()]

    means = pd.DataFrame({"design": names, "cost": costs.mean(axis=0),
                          "qalys": qalys.mean(axis=0)})
    icer = cea.icer_table(means, comparator=comp, currency=comparison.currency)
    for t in spec.thresholds:
        nmb = econ.net_monetary_benefit(costs, qalys, t)
        icer[nmb_key(t)] = icer["design"].map(dict(zip(names, nmb.mean(axis=0), strict=True)))
        p = ceac[ceac["threshold"] == t].set_index("design")["probability"]
        icer[f"p_cost_effective_at_{t:g}"] = icer["design"].map(p)
    return ce_plane, ceac, ceaf, evpi, icer


def has_im(scenario: dict[str, Any]) -> bool:
    """Whether a design runs an IM group at some point of its horizon."""
    im = scenario["program"]["im"]
    return im["end_day"] > im["start_day"] and im["start_day"] < scenario["run"]["days"]


IM_ONLY = ("engagement_end", "engagement_mean")
"""Outcomes that mean nothing for a design without an IM group (shown as n/a)."""


def _wide(runs: pd.DataFrame, column: str, names: list[str]) -> pd.DataFrame:
    """Replications x designs of one column."""
    return runs.pivot(index="replication", columns="design", values=column)[names]


def _interval(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(values, [50 * (1 - INTERVAL), 50 * (1 + INTERVAL)])
    return float(lo), float(hi)


def _better(diff: np.ndarray, better: str) -> float:
    if better == "higher":
        return float((diff > 0).mean())
    if better == "lower":
        return float((diff < 0).mean())
    return float("nan")


PROGRAMME_END = "_programme_end"
"""Suffix of the outcomes read on each design's own programme-end day."""


def _comparator_on_design_days(runs: pd.DataFrame, ts: pd.DataFrame | None, names: list[str],
                               comp: str) -> dict[str, pd.DataFrame]:
    """Per design, the runs with the comparator's programme-end levels read on *its* end day.

    Each design ends on its own day and the comparator (usual care: no programme) on the
    horizon, so a difference of ``<measure>_programme_end`` would mix the programme's effect
    with the comparator's own course between the two days. The comparator's level on the
    design's day is interpolated from its recorded time series (weekly by default). Empty
    without time series (the differences then compare the two days as recorded).
    """
    if ts is None or ts.empty:
        return {}
    series = ts[ts["run_id"].isin(runs.loc[runs["design"] == comp, "run_id"])]
    by_run = {m: series.pivot(index="day", columns="run_id", values=m)  # day x comparator run
              for m in MEASURED_AT_BASELINE_AND_END if m in ts.columns}
    comp_rows = runs["design"] == comp
    out = {}
    for name in names:
        day = runs.loc[runs["design"] == name, "programme_end_day"]
        if name == comp or day.empty or not np.isfinite(day.iloc[0]):
            continue
        matched = runs.copy()
        for m, wide in by_run.items():
            level = pd.Series([np.interp(day.iloc[0], wide.index, wide[r]) for r in wide],
                              index=wide.columns)
            matched.loc[comp_rows, m + PROGRAMME_END] = matched.loc[comp_rows, "run_id"].map(level)
        out[name] = matched
    return out


def _outcome_table(runs: pd.DataFrame, rows: list[OutcomeRow], names: list[str],
                   comp: str, matched: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Levels and paired differences from ``comp``.

    ``matched`` (per design: the runs holding the comparator's levels on that design's
    programme-end day) serves the programme-end rows.
    """
    records = []
    # IM-only outcomes are nan without an IM group; _outcomes blanks those entries
    blank = {key: 0.0 for key in IM_ONLY if key in runs}
    runs = runs.fillna(blank)

    def against(pair: pd.DataFrame, key: str) -> tuple[np.ndarray, pd.DataFrame]:
        return (_wide(pair, key, names)[comp].to_numpy(),
                paired_differences(pair.assign(point=0), key, comp, lever="design",
                                   confidence=INTERVAL))

    for row in rows:
        wide = _wide(runs, row.key, names)
        same_day = against(runs, row.key)
        for name in names:
            base, paired = same_day
            if matched and name in matched and row.key.endswith(PROGRAMME_END):
                base, paired = against(matched[name].fillna(blank), row.key)
            values = wide[name].to_numpy()
            lo, hi = _interval(values)
            rec = {"outcome": row.key, "label": row.label, "unit": row.unit,
                   "better": row.better, "design": name, "n": len(values),
                   "mean": float(values.mean()), "low": lo, "high": hi,
                   "diff_mean": np.nan, "diff_low": np.nan, "diff_high": np.nan,
                   "diff_ci_low": np.nan, "diff_ci_high": np.nan, "p_better": np.nan}
            if name != comp:
                diff = values - base
                dlo, dhi = _interval(diff)
                rec.update(diff_mean=float(diff.mean()), diff_low=dlo, diff_high=dhi,
                           p_better=_better(diff, row.better))
                if name in paired.index and np.isfinite(paired.loc[name, "ci_low"]):
                    rec.update(diff_ci_low=float(paired.loc[name, "ci_low"]),
                               diff_ci_high=float(paired.loc[name, "ci_high"]))
                else:  # identical runs: zero-width interval
                    rec.update(diff_ci_low=float(diff.mean()), diff_ci_high=float(diff.mean()))
            records.append(rec)
    return pd.DataFrame.from_records(records)


def _timecourse(res: Results, runs: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    ts = res.timeseries
    cols = ["design", "day", "measure", "mean", "low", "high", "n"]
    if ts is None or ts.empty:
        return pd.DataFrame(columns=cols)
    keep = runs[["run_id", "design", "replication"]]
    ts = ts.merge(keep, on="run_id", how="inner")
    out = []
    for measure in TIMECOURSE:
        if measure not in ts.columns:
            continue
        g = ts.groupby(["design", "day"])[measure]
        frame = pd.DataFrame({
            "mean": g.mean(),
            "low": g.quantile(0.5 * (1 - INTERVAL)),
            "high": g.quantile(0.5 * (1 + INTERVAL)),
            "n": g.size(),
        }).reset_index()
        frame["measure"] = measure
        out.append(frame)
    frame = pd.concat(out, ignore_index=True)
    frame["design"] = pd.Categorical(frame["design"], categories=names, ordered=True)
    frame = frame.sort_values(["measure", "design", "day"]).reset_index(drop=True)
    frame["design"] = frame["design"].astype(str)
    return frame[cols]


def _subgroups(runs: pd.DataFrame, names: list[str], comp: str) -> pd.DataFrame:
    records = []
    for sub, (grouping, band) in subgroup_bands(runs).items():
        share = _wide(runs, f"share_{sub}", names)[comp].to_numpy()
        for measure, (label, unit, better) in SUBGROUP_MEASURES.items():
            key = f"{measure}_{sub}"
            wide = _wide(runs, key, names)
            base = wide[comp].to_numpy()
            for name in names:
                values = wide[name].to_numpy()
                ok = np.isfinite(values) & np.isfinite(base)
                rec = {"grouping": grouping, "subgroup": sub, "band": band,
                       "share": float(np.nanmean(share)), "measure": measure, "label": label,
                       "unit": unit, "design": name, "n": int(ok.sum()),
                       "mean": float(np.nanmean(values)) if ok.any() else np.nan,
                       "low": np.nan, "high": np.nan, "diff_mean": np.nan,
                       "diff_low": np.nan, "diff_high": np.nan, "p_better": np.nan}
                if ok.sum() >= 2:
                    rec["low"], rec["high"] = _interval(values[ok])
                    if name != comp:
                        diff = values[ok] - base[ok]
                        rec["diff_mean"] = float(diff.mean())
                        rec["diff_low"], rec["diff_high"] = _interval(diff)
                        rec["p_better"] = _better(diff, better)
                records.append(rec)
    return pd.DataFrame.from_records(records)


def _psa_table(comparison: Comparison) -> pd.DataFrame:
    """Each PSA parameter: its distribution, mean and 95% range, and the realised draws.

    A ``psa_empirical`` table's parameters get a row each: the mean and central 95% range
    over the table's rows (each row equally likely), described as the table.
    """
    records = []
    for name, dist in comparison.spec.psa.items():
        records.append({
            "parameter": name, "distribution": dist.describe(), "dist": dist.dist,
            "mean": float(dist.frozen().mean()) if dist.dist != "normal"
            or (dist.min is None and dist.max is None) else float(np.mean(
                dist.ppf(np.linspace(0.0005, 0.9995, 2000)))),
            **dict(zip(("low_95", "high_95"), dist.interval(INTERVAL), strict=True)),
            "source": dist.source})
    table = comparison.empirical
    if table is not None:
        for name, values in zip(table.columns, table.values.T, strict=True):
            lo, hi = _interval(values)
            records.append({"parameter": name, "distribution": table.describe(),
                            "dist": EMPIRICAL, "mean": float(values.mean()), "low_95": lo,
                            "high_95": hi, "source": table.source})
    for rec in records:
        name = rec["parameter"]
        info = parameter_field(name)
        extra = info.json_schema_extra or {}
        drawn = comparison.draws[name].to_numpy(dtype=float)
        rec.update(description=info.description or "", unit=extra.get("unit", ""),
                   default=info.default, base_value=_get(comparison.first, name),
                   drawn_mean=float(drawn.mean()), drawn_min=float(drawn.min()),
                   drawn_max=float(drawn.max()),
                   source=rec["source"] or extra.get("source", ""))
    cols = ["parameter", "description", "unit", "default", "base_value", "distribution",
            "dist", "mean", "low_95", "high_95", "drawn_mean", "drawn_min", "drawn_max",
            "source"]
    return pd.DataFrame.from_records(records, columns=cols)


def _psa_words(comparison: Comparison) -> dict[str, str]:
    """The PSA distribution of each uncertain parameter, in words (assumption tables)."""
    words = {name: dist.describe() for name, dist in comparison.spec.psa.items()}
    table = comparison.empirical
    if table is not None:
        words.update({name: table.describe() for name in table.columns})
    return words


def _as_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_as_text(v)}" for k, v in value.items())
    return str(value)


def _assumptions(comparison: Comparison) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parameters differing from the defaults in any design; the economic settings."""
    defaults = flatten(Scenario().model_dump(mode="json"))
    flat = {d.name: flatten(d.scenario) for d in comparison.designs}
    psa = _psa_words(comparison)
    records, econ_records = [], []
    for key, default in defaults.items():
        info = parameter_field(key)
        extra = info.json_schema_extra or {} if info is not None else {}
        values = {n: f.get(key) for n, f in flat.items()}
        base = {"parameter": key, "description": info.description if info else "",
                "unit": extra.get("unit", ""), "default": _as_text(default),
                "source": extra.get("source", ""),
                "psa": psa.get(key, "")}
        row = {**base, **{n: _as_text(v) for n, v in values.items()}}
        if key.startswith("economics."):
            econ_records.append(row)
        if key in ("name", "description"):
            continue
        if any(v != default for v in values.values()):
            row["differs_in"] = ", ".join(n for n, v in values.items() if v != default)
            records.append(row)
    names = comparison.names
    cols = ["parameter", "description", "unit", "default", *names, "differs_in", "source", "psa"]
    assumptions = pd.DataFrame.from_records(records, columns=cols)
    econ_cols = ["parameter", "description", "unit", "default", *names, "source", "psa"]
    return assumptions, pd.DataFrame.from_records(econ_records, columns=econ_cols)


# --------------------------------------------------------------------------- headline


def _headline(comparison: Comparison, icer: pd.DataFrame,
              ceac: pd.DataFrame, ceaf: pd.DataFrame, evpi: pd.DataFrame,
              n_complete: int) -> dict[str, Any]:
    """The key numbers of the summary: best design, probabilities, EVPI, best's increments."""
    spec, cur, comp = comparison.spec, comparison.currency, comparison.comparator
    t1 = spec.thresholds[0]
    best_rows = ceaf[ceaf["threshold"].isin(spec.thresholds)].set_index("threshold")
    best = str(best_rows.loc[t1, "design"])
    probs = {t: ceac[(ceac["threshold"] == t)].set_index("design")["probability"]
             for t in spec.thresholds}
    headline: dict[str, Any] = {
        "comparator": comp, "currency": cur, "thresholds": list(spec.thresholds),
        "horizon": spec.horizon,
        "best_design": best, "best_by_threshold": {f"{t:g}": str(best_rows.loc[t, "design"])
                                                   for t in spec.thresholds},
        "replications": n_complete,
        "probability_best": {f"{t:g}": {d: float(p) for d, p in probs[t].items()}
                             for t in spec.thresholds},
        "evpi_per_patient": {f"{t:g}": float(evpi.loc[evpi["threshold"] == t, "evpi"].iloc[0])
                             for t in spec.thresholds},
    }
    if best != comp:
        by_design = icer.set_index("design")
        headline.update(
            best_inc_cost=float(by_design.loc[best, "cost"] - by_design.loc[comp, "cost"]),
            best_inc_qalys=float(by_design.loc[best, "qalys"] - by_design.loc[comp, "qalys"]),
            best_verdict=str(icer.set_index("design").loc[best, "verdict_vs_comparator"]))
    return headline


def _provenance(comparison: Comparison, res: Results, command: str | None,
                report: RunReport | None, complete: list[int]) -> dict[str, Any]:
    spec = comparison.spec
    seeds = comparison.seeds
    prov: dict[str, Any] = {
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command or shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "compare_file": _display_path(comparison.path) if comparison.path else None,
        "compare_sha256": comparison.sha256(),
        "compare_file_sha256": hashlib.sha256(comparison.text.encode()).hexdigest()
        if comparison.text else None,
        "root_seed": spec.seed,
        "seed_rule": "replication r of every design runs with derive_seed(root_seed, r); "
                     "PSA draws from SeedSequence(root_seed, (PSA key, r, crc32(name)))",
        "replication_seeds": {str(r): seeds[r] for r in range(len(seeds))},
        "replications_used": complete,
        "designs": [{"name": d.name, "file": d.file, "scenario_sha256": d.sha256}
                    for d in comparison.designs],
        "psa_empirical": comparison.empirical_record(),
        "versions": package_versions(),
        "results_store": str(res.path),
        "results_tasks_sha256": res.manifest.get("tasks_sha256"),
    }
    if report is not None:
        prov.update(runs=report.total, runs_failed=report.failed_total,
                    wall_time_s=round(report.wall_time_s, 1),
                    seconds_per_run=round(report.seconds_per_run, 3)
                    if math.isfinite(report.seconds_per_run) else None)
    return prov
