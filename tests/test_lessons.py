"""Classroom lessons: each scenario's claim holds over 20 seeds, as the class will see it.

Each check runs the dashboard's own model (both arms, the scenario's full length) for 20
replication seeds and needs the claim to hold in at least the lesson's required share
(80%: a teacher running the lesson with any seed sees the effect 4 times in 5 or more).
The pass rates are printed (pytest -s, or -rA) for the teacher's notes.
"""

from __future__ import annotations

import pytest

from sim import load_scenario
from sim.viz.arms import COMPARISONS
from sim.viz.classroom import ClassroomModel
from sim.viz.lessons import LESSONS, check_lesson, lesson_for

from .conftest import ROOT

SEEDS = 20


@pytest.mark.parametrize("key", list(LESSONS))
def test_lesson_claim_holds_in_most_seeds(key):
    lesson = LESSONS[key]
    report = check_lesson(lesson, SEEDS, root=ROOT)
    print("\n" + report.summary())
    assert report.ok, (
        f"lesson '{key}' claim held in only {sum(report.passed)}/{SEEDS} seeds "
        f"({report.pass_rate:.0%} < {lesson.required_rate:.0%}): {lesson.claim}\n"
        + report.summary())


def test_clustering_lesson_reverses_for_simple_contagion():
    """Negative control (Centola 2010): with a threshold of one adherent neighbour the
    random network, with its long ties, spreads adherence faster than the lattice."""
    report = check_lesson(LESSONS["clustering"], 10, root=ROOT,
                          overrides={"behaviour.complex_threshold": 1})
    faster_random = [row["random_mean"] > row["clustered_mean"] for row in report.numbers]
    # 8 of 10: the same reliability the lesson itself needs
    assert sum(faster_random) >= 8, (
        f"with threshold 1 the random network should spread faster in most seeds: "
        f"{sum(faster_random)}/10\n{report.summary()}")


@pytest.mark.parametrize("key", list(LESSONS))
def test_lesson_files_sheets_and_page_agree(key):
    lesson = LESSONS[key]
    scenario = load_scenario(ROOT / lesson.file)
    assert lesson_for(scenario) is lesson, f"{lesson.file} must be named {lesson.scenario_name}"
    sheet = (ROOT / lesson.sheet).read_text()
    for heading in ("## Aim", "## In the dashboard", "## Questions", "## What students should "
                    "observe", "## Why"):
        assert heading in sheet, f"{lesson.sheet} lacks '{heading}'"
    assert lesson.file in sheet, f"{lesson.sheet} should give the command with {lesson.file}"
    assert lesson.compare in COMPARISONS
    model = ClassroomModel(scenario, compare=lesson.compare)
    assert len(model.arms) == (1 if lesson.compare == "none" else 2)
    assert model.arms[0].model.n <= 1000, "lessons should open at a responsive size"
