"""Derived inputs stay true: analysis files centred on the current defaults, results fresh.

The rule (docs/sensitivity.md, "Ranges around the default"): a PSA distribution's mean (or a
triangular one's mode) is the parameter's current value within 5%; an absolute range
``low..high`` holds the current value in its middle third. Files written relative to the
default (``mean: default``, ``relative:``, ``around_default:``) meet it by construction.
An empirical PSA table (``psa_empirical``, a calibration's near_best.csv) has its best row
(lowest objective, else the first) at the current values, to best.yaml's 4 significant digits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sim.analyses.compare import Comparison, load_comparison
from sim.analyses.freshness import empirical_staleness, sensitivity_freshness, stale_parameters
from sim.analyses.sa_runner import load_sensitivity
from sim.analyses.sweep import load_sweep
from sim.params.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def _value(scenario: dict[str, Any], dotted: str) -> float:
    node: Any = scenario
    for key in dotted.split("."):
        node = node[key]
    return float(node)


def _range_problem(name: str, default: float, low: float, high: float) -> str | None:
    third = (high - low) / 3
    if low + third <= default <= high - third:
        return None
    return f"{name}: default {default:g} is outside the middle third of {low:g}..{high:g}"


def _compare_problems(path: Path) -> list[str]:
    comparison = load_comparison(path)
    problems = []
    for name, dist in comparison.spec.psa.items():
        default = _value(comparison.first, name)
        if dist.dist == "triangular" and dist.mode is not None:
            centre = dist.mode
        elif dist.low is not None:  # a range, or a 95% interval
            problems.append(_range_problem(name, default, dist.low, dist.high))
            continue
        else:
            centre = dist.mean
        if abs(centre - default) > 0.05 * abs(default) + 1e-12:
            problems.append(f"{name}: centred on {centre:g}, default {default:g}")
    return [p for p in problems if p] + _empirical_problems(comparison)


def _empirical_problems(comparison: Comparison) -> list[str]:
    """The psa_empirical table's best row must hold today's values (see the module doc)."""
    table = comparison.empirical
    if table is None:
        return []
    stale = empirical_staleness(table, comparison.first)
    return [f"psa_empirical {table.path.name}: best row has {r.parameter} = {r.best:.6g}, "
            f"the default is {r.current:.6g}; the table and the defaults come from different "
            "fits: rerun the calibration and adopt its best.yaml as the defaults (or point "
            "psa_empirical at the calibration the defaults came from)"
            for r in stale.itertuples()]


def _range_problems(specs: dict[str, Any], base: dict[str, Any]) -> list[str]:
    return [p for name, u in specs.items() if u.low is not None and u.high is not None
            if (p := _range_problem(name, _value(base, name), u.low, u.high))]


SHIPPED = sorted((SCENARIOS / "compare").glob("*.yaml")) + sorted(
    (SCENARIOS / "sensitivity").glob("*.yaml")) + sorted((SCENARIOS / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_analysis_files_are_centred_on_the_current_defaults(path: Path) -> None:
    kind = path.parent.name
    if kind == "compare":
        problems = _compare_problems(path)
    elif kind == "sensitivity":
        plan = load_sensitivity(path)
        problems = _range_problems(dict(plan.spec.inputs), plan.base)
    else:
        sweep = load_sweep(path)
        problems = _range_problems(dict(sweep.spec.uncertain), sweep.base)
    assert not problems, f"{path.name} is off its current defaults: " + "; ".join(problems)


def test_the_centre_rule_catches_the_stale_psa_of_issue_14() -> None:
    assert _range_problem("x", 5.5, 0.75, 2.5) is not None
    assert _range_problem("x", 0.17, 0.0, 0.3) is None
    assert _range_problem("x", 0.1, 0.1, 0.5) is not None


# --------------------------------------------------------------------------- around the default


SENSITIVITY = """\
name: around
base: base.yaml
set: {population.size: 50, run.days: 20}
inputs:
  behaviour.support_effect_logit: {around_default: 0.5}
  network.in_person_gain: {around_default: 0.2, dist: triangular}
  clinical.utility_per_hba1c_pct: {around_default: 0.5}
method: morris
settings: {n: 4}
replications: 1
seed: 1
"""


def _extends(folder: Path, design: str, name: str, text: str) -> None:
    (folder / name).write_text(f"extends: {SCENARIOS}/designs/{design}.yaml\n{text}")


def test_around_default_follows_the_base_value(tmp_path: Path) -> None:
    _extends(tmp_path, "hybrid_kickoff", "base.yaml", "behaviour: {support_effect_logit: 4.0}\n")
    path = tmp_path / "around.yaml"
    path.write_text(SENSITIVITY)
    inputs = {i.name: i for i in load_sensitivity(path).inputs}
    logit = inputs["behaviour.support_effect_logit"]
    assert (logit.low, logit.high) == pytest.approx((2.0, 6.0))
    gain = inputs["network.in_person_gain"]
    assert (gain.low, gain.mode, gain.high) == pytest.approx((0.4, 0.5, 0.6))
    negative = inputs["clinical.utility_per_hba1c_pct"]
    assert (negative.low, negative.high) == pytest.approx((-0.03, -0.01)), "sorted ends"
    path.write_text(SENSITIVITY.replace("{around_default: 0.5}\n  network",
                                        "{around_default: 0.5, low: 1}\n  network"))
    with pytest.raises(ScenarioError, match="inputs.behaviour.support_effect_logit: give low "
                       "and high, or around_default, not both"):
        load_sensitivity(path)


COMPARE = """\
designs: [usual_care.yaml, im_peer_support.yaml]
comparator: usual_care
replications: 4
seed: 1
set: {population.size: 50}
psa:
  economics.staff_cost_per_hour: {dist: gamma, mean: default, relative: {sd: 0.2}}
  network.im_gain: {dist: beta, mean: default, sd: 0.001}
"""


def test_psa_mean_default_and_relative_sd(tmp_path: Path) -> None:
    for design in ("usual_care", "im_peer_support"):
        _extends(tmp_path, design, f"{design}.yaml", "economics: {staff_cost_per_hour: 60}\n")
    path = tmp_path / "compare.yaml"
    path.write_text(COMPARE)
    psa = load_comparison(path).spec.psa
    staff = psa["economics.staff_cost_per_hour"]
    assert (staff.mean, staff.sd) == pytest.approx((60.0, 12.0)), "the designs' value, 20%"
    assert psa["network.im_gain"].mean == pytest.approx(0.004)
    path.write_text(COMPARE.replace("economics.staff_cost_per_hour:",
                                    "economics.healthcare_cost_per_year:"))
    with pytest.raises(ScenarioError, match=r"psa.economics.healthcare_cost_per_year: around "
                       r"the current default 0: .*mean > 0"):
        load_comparison(path)
    path.write_text(COMPARE.replace("relative: {sd: 0.2}}", "sd: 3, relative: {sd: 0.2}}"))
    with pytest.raises(ScenarioError, match="sd or relative"):
        load_comparison(path)


# --------------------------------------------------------------------------- freshness


def test_stale_parameters_lists_what_changed() -> None:
    recorded = {"behaviour": {"support_effect_logit": 1.5, "norm_effect_logit": 0.45},
                "program": {"name": "x"}}
    current = {"behaviour": {"support_effect_logit": 5.5, "norm_effect_logit": 0.45},
               "program": {"name": "x"}}
    stale = stale_parameters(recorded, current)
    assert stale.to_dict("records") == [{"parameter": "behaviour.support_effect_logit",
                                         "recorded": 1.5, "current": 5.5}]
    assert stale_parameters(current, current).empty


@pytest.mark.parametrize("name", ["qol_levers", "qol_morris", "qol_sobol"])
def test_committed_sensitivity_results_are_fresh(name: str) -> None:
    stale = sensitivity_freshness(ROOT / "experiments" / "sensitivity" / name,
                                  SCENARIOS / "sensitivity" / f"{name}.yaml")
    assert stale.empty, f"{name} was run with other defaults:\n{stale.to_string()}"


# --------------------------------------------------------------------------- empirical tables


NEAR_BEST = """\
trial,objective,behaviour.support_effect_logit,network.in_person_gain
4,20.5,5.5,0.5
9,20.0,{logit},0.6
2,22.0,4.5,0.4
"""
"""A near_best.csv whose best row (lowest objective) is its second: {logit}, 0.6."""


def test_empirical_tables_are_checked_against_the_defaults(tmp_path: Path) -> None:
    for design in ("usual_care", "im_peer_support"):
        _extends(tmp_path, design, f"{design}.yaml", "")
    path = tmp_path / "compare.yaml"
    path.write_text(COMPARE.replace("psa:\n", "psa_empirical: {file: near_best.csv}\npsa:\n"))
    table = tmp_path / "near_best.csv"
    table.write_text(NEAR_BEST.format(logit=6.0))
    problems = _empirical_problems(load_comparison(path))
    assert len(problems) == 2, "the first row holds today's defaults, but it is not the best"
    today = load_comparison(path).first["behaviour"]["support_effect_logit"]
    assert f"best row has behaviour.support_effect_logit = 6, the default is {today:.6g}" in \
        problems[0], problems
    assert "rerun the calibration and adopt its best.yaml" in problems[0]
    for design in ("usual_care", "im_peer_support"):  # defaults adopted from best.yaml
        _extends(tmp_path, design, f"{design}.yaml",
                 "behaviour: {support_effect_logit: 6.0}\nnetwork: {in_person_gain: 0.6}\n")
    assert _empirical_problems(load_comparison(path)) == []
    table.write_text(NEAR_BEST.format(logit=6.00049))  # best.yaml's 4 digits: 6.000
    assert _empirical_problems(load_comparison(path)) == []
    table.write_text(NEAR_BEST.format(logit=6.01))
    assert len(_empirical_problems(load_comparison(path))) == 1
    no_objective = NEAR_BEST.format(logit=6.0).replace("trial,objective,", "").replace(
        "4,20.5,", "").replace("9,20.0,", "").replace("2,22.0,", "")
    table.write_text(no_objective)
    assert len(_empirical_problems(load_comparison(path))) == 2, (
        "without an objective the first row is the best (near_best.csv lists it first)")
