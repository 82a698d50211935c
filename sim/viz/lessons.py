"""Classroom lessons: what each one shows, and the check that it does, seed after seed.

A lesson is a scenario in ``scenarios/classroom/`` (recognised by its ``name``), the
side-by-side contrast the dashboard opens it with, and a claim. ``check_lesson`` runs the
page's own model (``ClassroomModel``, both arms, the scenario's full length) for each
seed and reports how often the claim holds, with the numbers behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.outcomes import top_share
from sim.core.rng import replication_seeds, seed_sequence
from sim.params.scenario import Scenario, load_scenario
from sim.viz.classroom import ClassroomModel
from sim.viz.measures import posters_share, tie_correlation, tie_pairs


@dataclass(frozen=True)
class Lesson:
    """A classroom lesson.

    Attributes:
        key: short name (``peersupport lesson KEY``).
        scenario_name: the ``name`` of its scenario file.
        file: the scenario file, relative to the project root.
        sheet: the teacher's sheet, relative to the project root.
        title: one line.
        compare: the dashboard contrast it opens with (``sim.viz.arms.COMPARISONS``).
        claim: what students should see, as the check tests it.
        look_for: one-line hint the page shows.
        check: one finished model -> (claim holds?, numbers).
        required_rate: share of seeds in which the claim must hold for the lesson to work.
    """

    key: str
    scenario_name: str
    file: str
    sheet: str
    title: str
    compare: str
    claim: str
    look_for: str
    check: Callable[[ClassroomModel], tuple[bool, dict[str, float]]] = field(repr=False)
    required_rate: float = 0.8


def _mean_over(arm_series: np.ndarray, start: int, end: int) -> float:
    return float(np.mean(arm_series[start:end])) if end > start else float("nan")


def check_clustering(model: ClassroomModel) -> tuple[bool, dict[str, float]]:
    """Complex contagion spreads further and faster on the clustered network (arm A).

    Further: a larger adherent share at the end. Faster: a larger mean adherent share
    over the run (the area under the curve). Both must hold.
    """
    clustered, random = (arm.series("adherent_share") for arm in model.arms)
    out = {"clustered_end": float(clustered[-1]), "random_end": float(random[-1]),
           "clustered_mean": float(clustered.mean()), "random_mean": float(random.mean())}
    ok = out["clustered_end"] > out["random_end"] and out["clustered_mean"] > out["random_mean"]
    return ok, out


HOMOPHILY_MIN_CORRELATION = 0.3
"""Correlation between tied patients' PDC that counts as clearly visible in class."""
RANDOM_MAX_CORRELATION = 0.1
"""Correlation between randomly tied patients that counts as none."""


def check_homophily(model: ClassroomModel) -> tuple[bool, dict[str, float]]:
    """Tied patients' PDC is correlated with peer influence switched off (arm A).

    The same patients (same seed) tied at random instead show no such correlation, so it
    comes from who is tied to whom, not from influence; and switching influence on
    (arm B) raises it by less than half what homophily alone produced.
    """
    no_influence, influence = model.arms
    random_i, random_j = _random_ties(no_influence.model.network.background,
                                      model.seed_used)
    out = {
        "correlation_no_influence": no_influence.friends_correlation(),
        "correlation_influence": influence.friends_correlation(),
        "correlation_random_ties": tie_correlation(no_influence.model.pdc, random_i, random_j),
        "adherent_no_influence": float(no_influence.model.adherent.mean()),
        "adherent_influence": float(influence.model.adherent.mean()),
    }
    extra = out["correlation_influence"] - out["correlation_no_influence"]
    ok = (out["correlation_no_influence"] >= HOMOPHILY_MIN_CORRELATION
          and abs(out["correlation_random_ties"]) <= RANDOM_MAX_CORRELATION
          and extra < 0.5 * out["correlation_no_influence"])
    return ok, out


def _random_ties(background: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """As many ties as ``background`` has, between patients drawn at random (a control)."""
    i, _ = tie_pairs(background)
    n = background.shape[0]
    rng = np.random.default_rng(seed_sequence(seed, "lessons.random_ties"))
    a, b = rng.integers(0, n, i.shape[0]), rng.integers(0, n, i.shape[0])
    keep = a != b
    return a[keep], b[keep]


def check_kickoff(model: ClassroomModel) -> tuple[bool, dict[str, float]]:
    """An in-person kick-off (arm B) leaves stronger ties, more engagement, more adherence.

    Compared over the IM group's open period (means over its days): group tie strength,
    IM engagement and the adherent share must all be higher with the kick-off.
    """
    im_only, hybrid = model.arms
    days = np.flatnonzero(hybrid.model.plan.im_active)
    start, end = (int(days[0]) + 1, int(days[-1]) + 2) if days.size else (0, model.days + 1)
    out: dict[str, float] = {}
    for name, arm in (("im_only", im_only), ("kickoff", hybrid)):
        out[f"tie_strength_{name}"] = _mean_over(arm.series("tie_strength_mean"), start, end)
        out[f"engagement_{name}"] = _mean_over(arm.series("engagement_mean"), start, end)
        out[f"adherent_{name}"] = _mean_over(arm.series("adherent_share"), start, end)
    ok = all(out[f"{k}_kickoff"] > out[f"{k}_im_only"]
             for k in ("tie_strength", "engagement", "adherent"))
    return ok, out


LURKER_MAX_POSTERS = 0.5
"""'Most never post': under half of the members post even once."""
TOP1_MIN_SHARE = 0.2
"""'The top 1% write a large share': at least a fifth of all member posts (20x their share)."""
FADE_MAX_RATIO = 0.9
"""'Engagement fades': at the IM group's close it is below 90% of its first-week level.

A tenth is a visible fade in the dashboard's chart; at the calibrated defaults the median over
the lesson's 20 seeds is 84% (range 79-91%)."""


def check_lurkers(model: ClassroomModel) -> tuple[bool, dict[str, float]]:
    """In an IM group most members never post and the top 1% write a large share.

    And engagement fades while the group runs.
    """
    arm = model.arms[0]
    m = arm.model
    members = ~m.network.leader
    days = np.flatnonzero(m.plan.im_active)
    engagement = arm.series("engagement_mean")
    first, last = (int(days[0]), int(days[-1]) + 1) if days.size else (0, 0)
    out = {
        "posters_share": posters_share(m.posts_total, members),
        "top1_share": top_share(m.posts_total[members]),
        "engagement_first_week": _mean_over(engagement, first + 1, first + 8),
        "engagement_at_close": float(engagement[min(last, engagement.size - 1)]),
    }
    out["fade_ratio"] = out["engagement_at_close"] / out["engagement_first_week"]
    ok = (out["posters_share"] < LURKER_MAX_POSTERS and out["top1_share"] >= TOP1_MIN_SHARE
          and out["fade_ratio"] < FADE_MAX_RATIO)
    return ok, out


LESSONS: dict[str, Lesson] = {lesson.key: lesson for lesson in (
    Lesson(
        key="clustering", scenario_name="lesson_clustered_vs_random",
        file="scenarios/classroom/clustered_vs_random.yaml",
        sheet="docs/teaching/clustered_vs_random.md",
        title="Clustered vs random networks under complex contagion (Centola 2010)",
        compare="clustering",
        claim="adherence spreads further (end) and faster (mean over the run) on the "
              "clustered network than on the random one",
        look_for="Watch blue (adherent) spread along the ring in A; in B the champions "
                 "stay isolated islands.",
        check=check_clustering),
    Lesson(
        key="homophily", scenario_name="lesson_influence_vs_homophily",
        file="scenarios/classroom/influence_vs_homophily.yaml",
        sheet="docs/teaching/influence_vs_homophily.md",
        title="Influence vs homophily: why friends' correlated adherence overstates influence",
        compare="influence",
        claim=f"with influence off, tied patients' PDC correlates (r >= "
              f"{HOMOPHILY_MIN_CORRELATION}); the same patients tied at random do not "
              f"(|r| <= {RANDOM_MAX_CORRELATION}); switching influence on adds less than "
              f"half the correlation homophily alone produced",
        look_for="Compare \"Friends alike\" (the correlation of adherence between tied "
                 "patients) in A, with no influence at all, and in B.",
        check=check_homophily),
    Lesson(
        key="kickoff", scenario_name="lesson_kickoff_rapport",
        file="scenarios/classroom/kickoff_rapport.yaml",
        sheet="docs/teaching/kickoff_rapport.md",
        title="The rapport effect of an in-person kick-off",
        compare="kickoff",
        claim="with the kick-off, group ties are stronger, IM engagement and the adherent "
              "share higher over the IM period",
        look_for="Group ties in B turn dark after the two sessions; watch engagement.",
        check=check_kickoff),
    Lesson(
        key="lurkers", scenario_name="lesson_lurkers",
        file="scenarios/classroom/lurkers.yaml",
        sheet="docs/teaching/lurkers.md",
        title="Lurkers and fading engagement in IM groups",
        compare="none",
        claim=f"under {LURKER_MAX_POSTERS:.0%} of members ever post, the top 1% write at "
              f"least {TOP1_MIN_SHARE:.0%} of the posts, and engagement at the group's "
              f"close is under {FADE_MAX_RATIO:.0%} of its first week",
        look_for="Watch \"Ever posted\" and \"Top 1% wrote\"; nodes shrink as "
                 "engagement fades.",
        check=check_lurkers),
)}
"""Every lesson, by key."""


def lesson_for(scenario: Scenario) -> Lesson | None:
    """The lesson a scenario belongs to (by its name), if any."""
    return next((ls for ls in LESSONS.values() if ls.scenario_name == scenario.name), None)


@dataclass
class LessonReport:
    """The claim checked over several seeds."""

    lesson: Lesson
    seeds: list[int]
    passed: list[bool]
    numbers: list[dict[str, float]]

    @property
    def pass_rate(self) -> float:
        """Share of seeds in which the claim held."""
        return float(np.mean(self.passed)) if self.passed else float("nan")

    @property
    def ok(self) -> bool:
        """Whether the claim held often enough for the lesson to work in class."""
        return self.pass_rate >= self.lesson.required_rate

    def summary(self) -> str:
        """A few lines: the claim, the pass rate and the median of each number."""
        lines = [f"{self.lesson.key}: {self.lesson.title}",
                 f"  claim: {self.lesson.claim}",
                 f"  held in {sum(self.passed)} of {len(self.passed)} seeds "
                 f"({self.pass_rate:.0%}; needs {self.lesson.required_rate:.0%}): "
                 f"{'OK' if self.ok else 'NOT RELIABLE'}"]
        for key in self.numbers[0] if self.numbers else ():
            vals = np.array([row[key] for row in self.numbers])
            lines.append(f"  {key:28s} median {np.median(vals):8.3f}  "
                         f"(range {vals.min():.3f} to {vals.max():.3f})")
        return "\n".join(lines)


def run_model(scenario: Scenario, compare: str, seed: int) -> ClassroomModel:
    """The page's model for ``scenario`` and ``seed``, run to the scenario's end."""
    model = ClassroomModel(scenario, seed=seed, compare=compare)
    while model.running:
        model.step()
    return model


def check_lesson(lesson: Lesson, n_seeds: int = 20, *, root: Path | None = None,
                 scenario: Scenario | None = None, root_seed: int = 2024,
                 overrides: dict[str, Any] | None = None) -> LessonReport:
    """Run a lesson's scenario for ``n_seeds`` seeds and check its claim each time.

    Args:
        lesson: the lesson.
        n_seeds: replications (SeedSequence spawns of ``root_seed``).
        root: project root holding ``lesson.file`` (ignored when ``scenario`` is given).
        scenario: the scenario to use instead of reading ``lesson.file``.
        root_seed: root of the replication seeds.
        overrides: values by dotted path applied to the scenario.
    """
    if scenario is None:
        scenario = load_scenario((root or Path.cwd()) / lesson.file, overrides)
    elif overrides:
        scenario = scenario.with_overrides(overrides)
    seeds = replication_seeds(root_seed, n_seeds)
    passed, numbers = [], []
    for seed in seeds:
        ok, nums = lesson.check(run_model(scenario, lesson.compare, seed))
        passed.append(bool(ok))
        numbers.append(nums)
    return LessonReport(lesson=lesson, seeds=seeds, passed=passed, numbers=numbers)
