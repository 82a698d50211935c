"""Scenario files: a typed, frozen parameter tree mirroring the YAML.

Every parameter carries its unit, default and source (``param``); the parameter table
in docs/model.md is generated from these declarations (``sim.report.params_table``).
Unknown keys are rejected with the closest valid name; every error names the file, line
and key path.
Files may ``extends:`` another file (a deep merge: the child wins, lists are replaced);
``overrides`` set values by dotted path, as ``--set a.b.c=value`` does on the CLI.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.params.catalogue import resolve
from sim.params.edgelist import read_edge_list
from sim.params.errors import ScenarioError, cut, short
from sim.params.files import regular_file
from sim.params.lifetime import Lifetime
from sim.params.located import Located, section_type
from sim.params.yamlio import (
    MAX_DOCUMENT_BYTES,
    MAX_KEY_CHARS,
    MAX_NODES,
    Location,
    parse_value,
    read_document,
)

MAX_TIES = 2**31 - 1
"""Most network entries (ties counted from both ends): the network indexes them in int32."""

COST_LIMIT = 1e9
"""Upper bound of every unit cost and of the WTP threshold (currency units): far above any
real price, yet low enough that totals over 20 million patients and 100 years stay finite."""


def param(default: Any, unit: str, source: str, description: str, *,
          clip: tuple[float, float] | None = None, **constraints: Any) -> Any:
    """A documented parameter: default, unit, source (EVIDENCE.md author-year or "assumption").

    ``clip`` (distributions only) is the physically possible range: the distribution's
    ``min`` and ``max`` default to it and may not leave it.
    """
    extra: dict[str, Any] = {"unit": unit, "source": source}
    if clip is not None:
        extra["clip"] = list(clip)
    return Field(default, description=description, json_schema_extra=extra, **constraints)


class Section(BaseModel):
    """Base of every section: unknown keys rejected, immutable, defaults validated.

    Numbers must be finite: nan and inf are refused (pydantic accepts them by default).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True,
                              allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """``size: true`` is a typo, not 1 patient: booleans are refused where a number is expected.

        Pydantic would read them as 1 and 0.
        """
        if isinstance(value, bool) and cls.model_fields[info.field_name or ""].annotation in (
                int, float, int | None, float | None):
            raise ValueError(f"expected a number, got the boolean {str(value).lower()}")
        return value


class Normal(Section):
    """A normal distribution truncated (by clipping) to [min, max]."""

    mean: float = Field(description="mean")
    sd: float = Field(ge=0, description="standard deviation")
    min: float = Field(-1e9, description="lower clip")
    max: float = Field(1e9, description="upper clip")

    @model_validator(mode="after")
    def _ordered(self) -> Normal:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Beta(Section):
    """A beta distribution on [0, 1]."""

    alpha: float = Field(gt=0, description="shape alpha")
    beta: float = Field(gt=0, description="shape beta")


class Eligibility(Section):
    """Entry criteria on the screening HbA1c: candidates outside them are never enrolled.

    Truncation, not clipping: candidates are drawn until enough pass (``sim.core.population``).
    """

    hba1c_min_pct: float | None = param(
        None, "%", "-", "lowest screening HbA1c enrolled, inclusive (none = no lower bound)",
        ge=4, le=20,
    )
    hba1c_max_pct: float | None = param(
        None, "%", "-", "highest screening HbA1c enrolled, inclusive (none = no upper bound)",
        ge=4, le=20,
    )
    on: Literal["measured", "true"] = param(
        "measured", "-", "-",
        "screen on the measured value (true HbA1c with measurement noise, as trials do) or on "
        "true HbA1c",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Eligibility:
        lo, hi = self.hba1c_min_pct, self.hba1c_max_pct
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"hba1c_min_pct ({lo:g}) must not exceed hba1c_max_pct ({hi:g})")
        return self

    @property
    def active(self) -> bool:
        """Whether any criterion is set."""
        return self.hba1c_min_pct is not None or self.hba1c_max_pct is not None


class Population(Section):
    """Who the patients are (drawn once per run from the population stream)."""

    size: int = param(2000, "patients", "assumption", "number of patients", ge=1, le=20_000_000)
    age_years: Normal = param(
        Normal(mean=62, sd=10, min=30, max=90), "years", "assumption",
        "age at baseline (typical of DSMES trial populations)", clip=(0, 120),
    )
    female_share: float = param(0.45, "share", "assumption", "share of women", ge=0, le=1)
    years_with_diabetes: Normal = param(
        Normal(mean=9, sd=6, min=0, max=40), "years", "assumption", "time since diagnosis",
        clip=(0, 100),
    )
    baseline_hba1c_pct: Normal = param(
        Normal(mean=8.2, sd=1.2, min=6.0, max=13.0), "%", "Qi 2015; Presley 2020",
        "true baseline HbA1c of the source population, before eligibility (trial populations "
        "span about 7.5 to 10)", clip=(4, 20),
    )
    eligibility: Eligibility = Eligibility()
    adherence_logit: Normal = param(
        Normal(mean=1.8, sd=1.5, min=-6, max=8), "logit of daily dose probability",
        "Piragine 2023; Kirkman 2015 [I]",
        "adherence propensity; the default puts about 60% at PDC >= 0.8", clip=(-50, 50),
    )
    complex_regimen_share: float = param(
        0.4, "share", "assumption", "share on a complex regimen (a dosing barrier)", ge=0, le=1
    )
    self_efficacy_z: Normal = param(
        Normal(mean=0, sd=1, min=-3, max=3), "z-score", "assumption",
        "diabetes self-efficacy, standardised", clip=(-10, 10),
    )
    knowledge: Beta = param(
        Beta(alpha=4, beta=4), "score 0-1", "assumption", "diabetes self-care knowledge"
    )
    digital_literacy: Beta = param(
        Beta(alpha=3, beta=2), "score 0-1", "assumption",
        "ease with online talk; sets initial IM engagement",
    )
    distress: Beta = param(
        Beta(alpha=2, beta=5), "PAID score / 100", "assumption (T2DM PAID means about 20-25, "
        "SD about 18 [M])", "baseline diabetes distress on the PAID scale (0-100) divided by "
        "100; the default has mean 29, SD 16",
    )
    baseline_utility: Normal = param(
        Normal(mean=0.77, sd=0.2, min=-0.2, max=1.0), "EQ-5D utility", "Redenz 2023; Redekop 2002",
        "baseline EQ-5D-3L utility (published SD 0.27 is partly between-study)",
        clip=(-0.594, 1),
    )
    never_attend_share: float = param(
        0.18, "share", "Simmons 2015; Smith 2011", "share who never attend in-person sessions",
        ge=0, le=1,
    )
    attendance_propensity: Beta = param(
        Beta(alpha=2.0, beta=1.0), "probability", "Simmons 2015; Smith 2011 [I]",
        "chance that a patient who attends at all attends a given session",
    )

    @field_validator("*")
    @classmethod
    def _physical_range(cls, value: Any, info: ValidationInfo) -> Any:
        """Distributions stay in their physical range (``clip``): unset min/max default to it."""
        field = cls.model_fields[info.field_name or ""]
        clip = (field.json_schema_extra or {}).get("clip")  # type: ignore[union-attr]
        if clip is None or not isinstance(value, Normal):
            return value
        lo, hi = clip
        unset = {k: v for k, v in (("min", lo), ("max", hi)) if k not in value.model_fields_set}
        value = value.model_copy(update=unset) if unset else value
        if value.min < lo or value.max > hi or value.min > value.max:
            raise ValueError(f"min and max must lie within [{lo:g}, {hi:g}] and min <= max, "
                             f"got min={value.min:g}, max={value.max:g}")
        return value


class Background(Section):
    """Ties outside the program groups (friends, family, clinic acquaintances)."""

    kind: Literal["none", "small_world", "scale_free", "homophily", "edge_list"] = param(
        "small_world", "-", "assumption", "generator of background ties"
    )
    mean_degree: int = param(4, "ties per patient", "assumption", "average background degree",
                             ge=0, le=200)
    rewire_prob: float = param(0.1, "probability", "assumption",
                               "small-world rewiring (0 = clustered lattice, 1 = random)",
                               ge=0, le=1)
    homophily: float = param(0.8, "0-1", "assumption",
                             "how strongly ties link patients of similar adherence propensity",
                             ge=0, le=1)
    edge_list: str | None = param(None, "path", "-",
                                  "CSV of 'source,target' patient ids (0-based), relative to "
                                  "the scenario file; used when kind is edge_list")
    strength: float = param(0.5, "0-1", "assumption", "strength of background ties", ge=0, le=1)


class Network(Section):
    """Program cohorts / IM groups plus background ties; per-tie strength (rapport)."""

    group_size: int = param(12, "patients", "DESIGN (8-15)", "program cohort and IM group size",
                            ge=2, le=200)
    peer_leaders: bool = param(True, "-", "assumption",
                               "each group has a trained peer leader (its first member)")
    background: Background = Background()
    initial_group_strength: float = param(
        0.15, "0-1", "assumption", "rapport between group members who have not met", ge=0, le=1
    )
    strength_floor: float = param(0.15, "0-1", "assumption",
                                  "rapport that group ties decay toward without contact",
                                  ge=0, le=1)
    strength_decay_days: float = param(
        180.0, "days", "assumption", "time constant of rapport decay without contact", gt=0
    )
    in_person_gain: float = param(
        0.5, "fraction of the gap to 1", "DiabPeerS process evaluation [A]",
        "rapport built between two members attending the same session", ge=0, le=1,
    )
    im_gain: float = param(
        0.004, "fraction of the gap to 1 per message read", "assumption",
        "rapport built by reading a group member's message", ge=0, le=1,
    )
    call_gain: float = param(
        0.5, "fraction of the gap to 1 per call", "assumption (as a group session)",
        "rapport built with the buddy or mentor by one call (in person: in_person_gain)",
        ge=0, le=1,
    )
    buddy_initial_strength: float = param(
        0.15, "0-1", "assumption", "rapport with a buddy before the first call", ge=0, le=1
    )
    mentor_initial_strength: float = param(
        0.3, "0-1", "assumption",
        "rapport with a peer mentor before the first call (trained to build rapport)", ge=0, le=1,
    )
    moderator_strength: float = param(
        0.8748, "0-1", "Sartori 2020 [calibrated]",
        "weight of moderator messages (staff, not peers)", ge=0, le=1,
    )

    @property
    def ties_per_patient(self) -> int:
        """Network entries per patient: group mates plus generated background ties.

        An edge list's size is bounded by its file.
        """
        generated = self.background.kind not in ("none", "edge_list")
        return self.group_size - 1 + (self.background.mean_degree if generated else 0)


class InstantMessaging(Section):
    """An IM peer group per cohort, active on days [start_day, end_day)."""

    start_day: int = param(0, "day", "-", "first day of the IM group", ge=0)
    end_day: int = param(0, "day", "-", "day the IM group closes (exclusive)", ge=0)
    posts_per_week: float = param(
        2.0, "messages per member per week", "Simons 2020 [I]",
        "average member posting rate at full engagement (realised about 0.7 at the "
        "engagement members keep)", ge=0, le=100,
    )
    leader_posts_per_week: float = param(
        3.0, "messages per week", "assumption", "peer leader posting rate", ge=0, le=200
    )
    moderator_posts_per_week: float = param(
        2.0, "messages per week", "assumption",
        "moderator messages and reminders per group", ge=0, le=200,
    )


class Schedule(Section):
    """One schedule of a channel: explicit ``days``, or evenly spaced days.

    Evenly spaced: start_day, start_day + every_days, ... before end_day (then ``days`` may not
    be given). Channels reuse it: a channel's flat keys are one schedule, its ``schedules`` list
    several; ``sim.core.program.schedule_mask`` expands one into the days it acts.
    """

    days: list[int] | None = param(
        None, "days", "-", "explicit days, strictly increasing (none = evenly spaced); days "
        "past run.days are not reached, as an evenly spaced schedule stops at the horizon "
        "(a design can be run for a shorter horizon)",
    )
    start_day: int = param(0, "day", "-", "first day", ge=0)
    end_day: int = param(0, "day", "-", "none from this day on", ge=0)
    every_days: int = param(7, "days", "-", "days between two", ge=1)

    @field_validator("days")
    @classmethod
    def _increasing(cls, days: list[int] | None) -> list[int] | None:
        if days is not None:
            if any(d < 0 for d in days):
                raise ValueError(f"days must be >= 0, got {days}")
            if any(b <= a for a, b in zip(days[:-1], days[1:], strict=True)):
                raise ValueError(f"days must be strictly increasing, got {days}")
        return days

    @model_validator(mode="after")
    def _one_form(self) -> Schedule:
        spaced = _set_keys(self, ("start_day", "end_day", "every_days"))
        if self.days is not None and spaced:
            raise ValueError(f"give either days or {', '.join(spaced)}, not both")
        return self


def _set_keys(section: Section, keys: Sequence[str]) -> list[str]:
    """The ``keys`` of ``section`` not at their defaults (the ones a file or --set gave)."""
    return [key for key in keys
            if getattr(section, key) != type(section).model_fields[key].default]


class SessionSchedule(Schedule):
    """A schedule of group sessions (or education sessions) of a given length."""

    hours_per_session: float = param(2.0, "hours", "assumption",
                                     "length of each session (0 = none held)", ge=0, le=24)
    attendance_factor: float = param(
        1.0, "x attendance probability", "assumption",
        "share of the usual attendance these sessions draw (optional meetings: fewer come)",
        gt=0, le=1,
    )


class SessionChannel(SessionSchedule):
    """A channel of sessions: its flat keys are one schedule, or ``schedules`` lists several."""

    schedules: list[SessionSchedule] | None = param(
        None, "list of schedules", "-",
        "several schedules, each with the keys days or start_day/end_day/every_days, "
        "hours_per_session and attendance_factor (instead of the flat keys)",
    )

    @model_validator(mode="after")
    def _flat_or_list(self) -> SessionChannel:
        _check_flat_or_list(self, _FLAT_KEYS)
        return self

    @property
    def timetable(self) -> tuple[SessionSchedule, ...]:
        """The channel's schedules: ``schedules``, or the flat keys as the one schedule."""
        return (self,) if self.schedules is None else tuple(self.schedules)

    @property
    def holds_sessions(self) -> bool:
        """Whether any of its schedules holds a session (of more than 0 hours) at all."""
        return any(s.hours_per_session > 0 and (bool(s.days) if s.days is not None
                                                else s.end_day > s.start_day)
                   for s in self.timetable)


_FLAT_KEYS = tuple(SessionSchedule.model_fields)
"""The keys of one schedule, which a channel also takes flat (as its one schedule)."""


def _check_flat_or_list(channel: SessionChannel | OneToOne, flat_keys: Sequence[str]) -> None:
    """A channel gives its one schedule by flat keys or several by ``schedules``, not both."""
    flat = _set_keys(channel, flat_keys)
    if channel.schedules is not None and flat:
        raise ValueError(f"give either schedules or {', '.join(flat)}, not both (a "
                         "channel's flat keys are its one schedule; when extending a file "
                         "that sets them, set them back to their defaults)")


class InPerson(SessionChannel):
    """Group sessions on days start_day, start_day + every_days, ... before end_day.

    Or on the explicit ``days``, or on several ``schedules``.
    """

    start_day: int = param(0, "day", "-", "day of the first session", ge=0)
    end_day: int = param(0, "day", "-", "no sessions from this day on", ge=0)
    every_days: int = param(7, "days", "-", "days between sessions", ge=1)
    hours_per_session: float = param(2.0, "hours", "assumption", "session length", ge=0, le=24)
    groups_share: float = param(1.0, "share", "-", "share of groups offered sessions (rollout)",
                                ge=0, le=1)


class Education(SessionChannel):
    """DSMES curriculum delivered in sessions on days start_day, +every_days, ... < end_day.

    Or on the explicit ``days``, or on several ``schedules``.
    """

    start_day: int = param(0, "day", "-", "day of the first education session", ge=0)
    end_day: int = param(0, "day", "-", "no education from this day on", ge=0)
    every_days: int = param(7, "days", "-", "days between education sessions", ge=1)
    hours_per_session: float = param(2.0, "hours", "Norris 2002", "curriculum hours per session",
                                     ge=0, le=24)
    mode: Literal["in_person", "digital"] = param(
        "in_person", "-", "-", "in person (attendance-driven) or digital (literacy-driven)"
    )


class OneToOne(Schedule):
    """One-to-one peer contact: calls on days start_day, start_day + every_days, ... < end_day.

    Or on the explicit ``days``, or on several ``schedules`` (e.g. weekly calls, then monthly
    ones). Buddy pairs within each group (``reciprocal``; an odd-sized group
    gets one trio) or one external peer mentor per ``mentees_per_mentor`` patients (``mentor``).
    """

    start_day: int = param(0, "day", "-", "day of the first call", ge=0)
    end_day: int = param(0, "day", "-", "no calls from this day on", ge=0)
    every_days: int = param(7, "days", "-", "days between calls", ge=1)
    mode: Literal["reciprocal", "mentor"] = param(
        "mentor", "-", "design choice",
        "buddy pairs within the group (reciprocal) or external peer mentors (mentor)",
    )
    medium: Literal["phone", "in_person"] = param(
        "phone", "-", "design choice",
        "calls by phone, or meetings in person (rapport gain network.in_person_gain, twice the "
        "support weight [A])",
    )
    mentees_per_mentor: int = param(10, "patients", "Chan 2014 (1 peer : 10 patients)",
                                    "patients per peer mentor (mentor mode)", ge=1, le=1000)
    minutes_per_call: float = param(20.0, "minutes", "assumption", "length of a call",
                                    gt=0, le=600)
    uptake_share: float = param(
        0.926, "share", "Simmons 2015 [I: 92.6% of dyads had phone contact]",
        "share of patients who take part in the one-to-one channel", ge=0, le=1,
    )
    call_completion: float = param(
        0.8, "probability", "assumption",
        "chance that a scheduled call between participants takes place", ge=0, le=1,
    )
    schedules: list[Schedule] | None = param(
        None, "list of schedules", "-",
        "several schedules of calls, each with the keys days or start_day/end_day/every_days "
        "(instead of the flat keys)",
    )

    @model_validator(mode="after")
    def _flat_or_list(self) -> OneToOne:
        _check_flat_or_list(self, tuple(Schedule.model_fields))
        return self

    @property
    def timetable(self) -> tuple[Schedule, ...]:
        """The channel's schedules: ``schedules``, or the flat keys as the one schedule."""
        return (self,) if self.schedules is None else tuple(self.schedules)


class Program(Section):
    """A program design: the levers a planner controls, as a schedule of channels."""

    name: str = param("usual_care", "-", "-", "design name shown in reports")
    champions_share: float = param(
        0.0, "share", "-", "share of patients coached to adherence on day 0 (peer champions, "
        "or the seeds of a contagion lesson)", ge=0, le=1,
    )
    im: InstantMessaging = InstantMessaging()
    in_person: InPerson = InPerson()
    education: Education = Education()
    one_to_one: OneToOne = OneToOne()


class Behaviour(Section):
    """How contact changes daily medication taking (logit-scale effects)."""

    support_effect_logit: float = param(
        2.681, "logit per unit support", "Patil 2016; Sartori 2020 [calibrated]",
        "effect of received peer support on the daily dose probability", ge=0, le=10,
    )
    support_time_constant_days: float = param(
        14.0, "days", "assumption", "memory of received support", gt=0
    )
    call_support_days: float = param(
        0.6398, "days-equivalent of support per call",
        "Presley 2020; Tang 2014; Long 2012; Chan 2014 [calibrated]",
        "weight of a one-to-one call in support memory (a call day counts as 1 + this)",
        ge=0, le=30,
    )
    adherence_memory_days: float = param(
        30.0, "days", "assumption", "time constant of recent adherence (EWMA) driving HbA1c",
        gt=0,
    )
    pdc_window_days: int = param(90, "days", "Piragine 2023 (PDC convention)",
                                 "window of the proportion of days covered", ge=7, le=365)
    champion_boost_logit: float = param(
        3.0, "logit", "assumption", "dosing boost of a peer champion", ge=0, le=20
    )
    contagion: Literal["simple", "complex", "graded"] = param(
        "simple", "-", "Centola 2010",
        "peer norm: linear (simple), threshold (complex) or graded by the count of adopting "
        "neighbours (graded)",
    )
    complex_threshold: int = param(
        2, "adherent neighbours", "Centola 2010", "neighbours needed under complex contagion",
        ge=1, le=50,
    )
    graded_first_signal: float = param(
        0.28, "share of the norm effect", "Centola 2010 [calibrated]",
        "graded contagion: response p1 to one adopting neighbour; p_k = min(p1 r^(k-1), 1)",
        ge=0, le=1,
    )
    graded_signal_growth: float = param(
        3.6, "ratio", "Centola 2010 [calibrated]",
        "graded contagion: factor r by which each further adopting neighbour raises the response",
        ge=1,
    )
    norm_responsive_share: float = param(
        0.82, "share of patients", "Centola 2010 [calibrated]",
        "graded contagion: share phi of patients who respond to peers at all", ge=0, le=1,
    )
    norm_signal_waning_days: float | None = param(
        4.0, "days", "Centola 2010 [calibrated]",
        "graded contagion: time constant of a non-adopter's pull after the count of adopting "
        "neighbours last rose (none = no waning)", gt=0,
    )
    norm_effect_logit: float = param(
        0.45, "logit", "Christakis & Fowler 2007 (ln 1.57)",
        "peer norm effect: all neighbours turning adherent (simple) or reaching the "
        "threshold (complex) or full response (graded)", ge=0, le=10,
    )
    self_efficacy_effect_logit: float = param(
        0.25, "logit per SD", "Liang 2021 [A]", "effect of self-efficacy on dosing", ge=0, le=5
    )
    self_efficacy_decay_days: float = param(
        120.0, "days", "Zhang (thesis) [A]",
        "time constant of self-efficacy gains fading after contact (effects vanish > 6 months)",
        gt=0,
    )
    self_efficacy_gain_per_session: float = param(
        0.12, "SD per session attended", "Liang 2021 [I]",
        "self-efficacy gained per in-person or education session attended", ge=0, le=2,
    )
    self_efficacy_gain_per_call: float = param(
        0.04, "SD per call", "assumption (a third of a group session)",
        "self-efficacy gained per one-to-one call", ge=0, le=2,
    )
    knowledge_effect_logit: float = param(
        0.6, "logit per unit knowledge gained", "assumption",
        "effect of knowledge gained on dosing", ge=0, le=10,
    )
    knowledge_hours_scale: float = param(
        20.0, "hours", "Norris 2002 [I]", "education hours that close 63% of the knowledge gap",
        gt=0,
    )
    complex_regimen_barrier_logit: float = param(
        0.4, "logit", "assumption", "dosing barrier of a complex regimen", ge=0, le=5
    )
    distress_barrier_logit: float = param(
        0.008, "logit per PAID point", "assumption",
        "dosing barrier of a rise in diabetes distress", ge=0, le=0.1,
    )
    overload_messages_per_day: float = param(
        10.0, "rapport-weighted messages per day", "assumption",
        "messages read in a day beyond which IM becomes overload (distress, QoL)", ge=0.01,
    )
    posting_activity_sigma: float = param(
        3.0, "log-scale SD", "van Mierlo 2014 [I]",
        "heavy tail of individual posting activity (most read, few post)", ge=0, le=5,
    )
    posting_share: float = param(
        0.35, "share of members", "van Mierlo 2014 [I]",
        "share of members who can post at all (hurdle; 1 = everyone)", gt=0, le=1,
    )
    max_posts_per_day: float | None = param(
        20.0, "messages per member per day", "assumption",
        "daily writing cap of one member or leader (none = no cap)", gt=0,
    )
    max_posts_per_member: int | None = param(
        None, "messages per member per run", "assumption",
        "a member stops posting at this total (issue 12 robustness check; none = no limit)",
        ge=0,
    )
    read_limit_per_author: float | None = param(
        3.0, "messages per author per day", "assumption",
        "an author's messages a reader takes in per day (none = all)", gt=0,
    )
    support_half_messages: float = param(
        0.9115, "rapport-weighted messages per day",
        "Qi 2015 frequency; DiabPeerS 2025 [calibrated]",
        "messages read that give 63% of the maximal daily support (saturating response; prior "
        "0.25-0.92, bounded by the posting-cap check)", gt=0,
    )
    support_max: float = param(
        1.0, "support units", "assumption",
        "maximal daily support (saturating response)", gt=0, le=10,
    )
    engagement_decay_days: float = param(
        35.0, "days", "Simons 2020", "time constant of IM engagement fading without messages read",
        gt=0,
    )
    engagement_resting: float = param(
        0.3, "x digital literacy", "TangPlan 2022; Simons 2020 [A]",
        "engagement that remains without messages read, relative to digital literacy", ge=0,
        le=1,
    )
    engagement_reinforcement: float = param(
        0.1, "fraction of the gap to 1 per unit support", "assumption",
        "engagement regained from messages read", ge=0, le=1,
    )
    in_person_engagement_boost: float = param(
        0.3, "fraction of the gap to 1", "DiabPeerS process evaluation [A]",
        "engagement regained by attending a session", ge=0, le=1,
    )
    session_support_days: float = param(
        40.22, "days-equivalent of support per session", "Qi 2015; Tang 2014 [calibrated]",
        "peer support (modelling, encouragement) a group session or in-person DSMES class "
        "delivers to its attendees, as days of contact (0 = none; prior 1-42)", ge=0, le=100,
    )
    session_support_half_attendees: float = param(
        1.0, "rapport-weighted co-attendees", "assumption",
        "co-attendees (weighted by rapport) that give 63% of a session's peer support "
        "(prior 0.5-3)", gt=0,
    )


class Clinical(Section):
    """How behaviour changes HbA1c and quality of life."""

    hba1c_time_constant_days: float = param(
        50.0, "days", "Tahara & Shima 1995", "first-order HbA1c kinetics", gt=0
    )
    adherence_slope_pct: float = param(
        1.0, "HbA1c %-points per unit adherence", "Rozenfeld 2008; Nichols 2016",
        "HbA1c fall from a full-adherence change (-0.1 per +10 pp)", ge=0, le=10,
    )
    effect_floor_hba1c_pct: float = param(
        6.979, "%", "Qi 2015 [calibrated]",
        "baseline HbA1c near which behaviour hardly moves HbA1c",
        ge=3, le=15,
    )
    effect_reference_hba1c_pct: float = param(
        8.0, "%", "Nichols 2015", "baseline HbA1c at which the effects above apply as stated",
        ge=3.5, le=16,
    )
    effect_multiplier_cap: float = param(
        1.345, "x", "Nichols 2015; Qi 2015 (plateau above 7.5-8.5) [calibrated]",
        "largest effect multiplier at high baseline HbA1c", ge=0, le=10,
    )
    response_cv: float = param(
        0.5, "coefficient of variation", "assumption",
        "between-patient heterogeneity of the HbA1c response to behaviour: a lognormal "
        "multiplier with mean 1 (0 = every patient responds alike)", ge=0, le=3,
    )
    course_sd_pct: float = param(
        1.009, "%-points", "SD of change 1.0-1.5 in trials (Presley 2020 [I]) [calibrated]",
        "SD of the clinical course: HbA1c variation behaviour does not control, an AR(1) around "
        "the set-point (0 = none; 1.0 gives a 6-month change SD of about 1.1)",
        ge=0, le=5,
    )
    course_time_constant_days: float = param(
        180.0, "days", "assumption", "time constant of the clinical course (treatment changes, "
        "life events)", gt=0,
    )
    biological_cv: float = param(
        0.018, "coefficient of variation", "EFLM biological variation database [M]",
        "within-person biological variation of a measured HbA1c (0 = none; about 0.018)",
        ge=0, le=0.1,
    )
    analytical_cv: float = param(
        0.02, "coefficient of variation", "EFLM biological variation database [M]",
        "analytical variation of a measured HbA1c (0 = none; about 0.02)", ge=0, le=0.1,
    )
    progression_pct_per_year: float = param(
        0.10, "%-points per year", "UKPDS [M] [A]",
        "HbA1c rise without treatment change (disease progression; about 0.1)", ge=-1, le=2,
    )
    lifestyle_effect_pct: float = param(
        1.039, "HbA1c %-points per unit self-care practice",
        "Norris 2002; Chrvala 2016 [calibrated]",
        "HbA1c fall from full self-care practice (diet, activity)", ge=0, le=10,
    )
    practice_time_constant_days: float = param(
        30.0, "days", "Norris 2002 [I]", "how fast self-care practice follows contact", gt=0
    )
    practice_retention: float = param(
        0.35, "share", "Norris 2002 [I]",
        "practice kept after contact ends (2/3 of the effect lost in 1-3 months)", ge=0, le=1,
    )
    contact_memory_days: float = param(
        30.0, "days", "assumption", "how long a contact keeps practice up", gt=0
    )
    support_practice_effect: float = param(
        0.9446, "practice per unit support", "Qi 2015; Patil 2016 [calibrated]",
        "self-care practice sustained by peer support", ge=0, le=5,
    )
    trial_drift_hba1c_pct: float = param(
        0.0128, "%-points", "Chrvala 2016 [calibrated]",
        "HbA1c fall in every arm from trial participation (the trial-participation term; "
        "applied only with run.trial_participation)", ge=0, le=3,
    )
    utility_per_hba1c_pct: float = param(
        -0.02, "utility per %-point", "Redekop 2002", "direct HbA1c effect on EQ-5D", ge=-1, le=0
    )
    utility_per_knowledge: float = param(
        0.1915, "utility per unit knowledge gained", "Cochran & Conn 2008 [calibrated]",
        "QoL gain from education (SMD +0.28)", ge=0, le=1,
    )
    utility_per_support: float = param(
        0.03, "utility per unit support", "Kong 2019 [A]", "QoL gain from peer support",
        ge=0, le=1,
    )
    utility_per_distress: float = param(
        -0.002, "utility per PAID point", "assumption",
        "QoL loss from a rise in diabetes distress", ge=-0.02, le=0,
    )
    utility_per_burden: float = param(
        0.004, "utility per contact-hour per week", "assumption",
        "QoL lost to the burden of attending sessions and education (0 = no burden)",
        ge=0, le=0.1,
    )
    utility_per_overload: float = param(
        0.01, "utility per unit overload", "assumption",
        "QoL lost to IM overload (0 = no overload effect)", ge=0, le=0.2,
    )
    trial_participation_utility: float = param(
        0.02, "utility", "DiabPeerS 2025; Cochran & Conn 2008 [A]",
        "QoL gain in every arm from taking part in a trial; applies only with "
        "run.trial_participation", ge=0, le=0.2,
    )
    distress_time_constant_days: float = param(
        30.0, "days", "assumption",
        "time constant of distress following its target (0 = the same day)",
        ge=0,
    )
    distress_per_support: float = param(
        3.0, "PAID points per unit support", "Liang 2021 (n.s.) [A]",
        "distress relieved by peer support", ge=0, le=100,
    )
    distress_per_self_efficacy: float = param(
        5.0, "PAID points per SD", "Steinsbekk 2012 [M]; assumption",
        "distress relieved by self-efficacy gained (how sessions reach distress)", ge=0, le=50,
    )
    distress_per_knowledge: float = param(
        3.0, "PAID points per unit knowledge gained", "assumption",
        "distress relieved by knowledge gained", ge=0, le=100,
    )
    distress_per_hba1c_rise: float = param(
        2.0, "PAID points per %-point", "assumption",
        "distress from a rise in HbA1c above baseline (worsening control)", ge=0, le=50,
    )
    distress_per_burden: float = param(
        0.5, "PAID points per contact-hour per week", "assumption",
        "distress from the burden of attending sessions and education", ge=0, le=20,
    )
    distress_per_overload: float = param(
        2.0, "PAID points per unit overload", "assumption",
        "distress from IM overload", ge=0, le=50,
    )

    @model_validator(mode="after")
    def _reference_above_floor(self) -> Clinical:
        if self.effect_reference_hba1c_pct <= self.effect_floor_hba1c_pct:
            raise ValueError(
                f"effect_reference_hba1c_pct ({self.effect_reference_hba1c_pct:g}) must be "
                f"above effect_floor_hba1c_pct ({self.effect_floor_hba1c_pct:g})")
        return self


class Economics(Section):
    """Unit costs (currency and price year stated), discounting and threshold."""

    currency: str = param("GBP", "-", "-", "currency of every cost")
    price_year: int = param(2023, "year", "-", "price year of every cost", ge=1990, le=2100)
    staff_cost_per_hour: float = param(45.0, "currency/hour", "assumption",
                                       "moderator / facilitator cost incl. on-costs", ge=0,
                                       le=COST_LIMIT)
    moderation_minutes_per_message: float = param(
        0.5, "minutes", "assumption (no source found)",
        "moderator time per IM message read (members', leaders' and moderators', up to the "
        "daily reading limit below; prior 0.25-2)", ge=0, le=1440,
    )
    moderation_minutes_per_group_week: float = param(
        60.0, "minutes per open group-week", "assumption (no source found)",
        "moderator time per open IM group whatever its messages (prior 30-120)", ge=0, le=10080,
    )
    moderation_max_messages_per_group_day: float | None = param(
        50.0, "messages per group-day", "assumption",
        "messages a moderator reads in one group a day; beyond it they skim (none = all; "
        "prior 20-100)", ge=0,
    )
    peer_leader_cost_per_patient_year: float = param(
        13.84, "currency/patient/year", "RAPSID cost analysis (2013 prices)",
        "lay peer leader support cost while a program runs", ge=0, le=COST_LIMIT,
    )
    mentor_cost_per_hour: float = param(
        15.0, "currency/hour", "assumption (RAPSID's GBP 13.84 per patient-year bounds the total)",
        "peer mentor time (mentor mode)", ge=0, le=COST_LIMIT,
    )
    mentor_admin_minutes_per_call: float = param(
        5.0, "minutes", "assumption", "mentor's notes and scheduling per call", ge=0, le=1440
    )
    mentor_training_cost: float = param(
        300.0, "currency per mentor", "assumption", "training a peer mentor, once at day 0",
        ge=0, le=COST_LIMIT,
    )
    session_cost_per_group_hour: float = param(
        150.0, "currency/group-hour", "Gillett 2010 [I]",
        "room and facilitators for an in-person session", ge=0, le=COST_LIMIT,
    )
    session_cost_per_attendee: float = param(5.0, "currency", "assumption",
                                              "travel and refreshments per attendee", ge=0,
                                              le=COST_LIMIT)
    education_cost_per_patient_hour: float = param(
        12.7, "currency/patient-hour", "Gillett 2010 (GBP 76 per 6 h)",
        "in-person DSMES delivery", ge=0, le=COST_LIMIT,
    )
    digital_education_cost_per_patient_hour: float = param(
        2.5, "currency/patient-hour", "cancer support-group cost analysis [I: 1/5]",
        "digital DSMES delivery", ge=0, le=COST_LIMIT,
    )
    platform_cost_per_patient_month: float = param(
        1.0, "currency/patient-month", "assumption", "IM platform while the group runs", ge=0,
        le=COST_LIMIT,
    )
    medication_cost_per_dose: float = param(0.05, "currency/dose", "assumption",
                                            "medication cost per dose taken", ge=0, le=COST_LIMIT)
    healthcare_cost_per_year: float = param(
        0.0, "currency/patient-year", "user-supplied", "annual healthcare cost at HbA1c 7%", ge=0,
        le=COST_LIMIT,
    )
    healthcare_cost_per_hba1c_pct_year: float = param(
        0.0, "currency/patient-year per %-point", "user-supplied",
        "extra annual healthcare cost per HbA1c %-point above 7", ge=0, le=COST_LIMIT,
    )
    discount_rate_costs: float = param(0.035, "per year", "NICE methods guide",
                                       "discount rate of costs", ge=0, le=0.5)
    discount_rate_effects: float = param(0.035, "per year", "NICE methods guide",
                                         "discount rate of QALYs", ge=0, le=0.5)
    wtp_per_qaly: float = param(20000.0, "currency/QALY", "NICE methods guide",
                                "willingness-to-pay threshold", ge=0, le=COST_LIMIT)


class Subgroups(Section):
    """Cut-offs of the subgroups reported separately (summary keys ``<measure>_hba1c_...``)."""

    hba1c: list[float] = param(
        [7.5, 8.5], "% (measured baseline)", "Qi 2015",
        "cut-offs of the baseline HbA1c bands, increasing: [7.5, 8.5] gives < 7.5, 7.5-8.5 and "
        ">= 8.5 (keys hba1c_lt7.5, hba1c_7.5to8.5, hba1c_ge8.5)", min_length=1, max_length=10,
    )

    @field_validator("hba1c")
    @classmethod
    def _increasing(cls, cuts: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(cuts[:-1], cuts[1:], strict=True)):
            raise ValueError(f"cut-offs must be strictly increasing, got {cuts}")
        if any(not 4 <= c <= 20 for c in cuts):
            raise ValueError(f"cut-offs must lie within 4-20 %, got {cuts}")
        return cuts


class Run(Section):
    """How long, which seed, what to record."""

    days: int = param(365, "days", "-", "simulated days", ge=1, le=36_500)
    seed: int = param(1, "-", "-", "root seed of every random stream", ge=0, le=2**63 - 1)
    replications: int = param(1, "runs", "-", "replications (SeedSequence spawns)", ge=1,
                              le=100_000)
    record_every_days: int = param(7, "days", "-", "time-series recording interval", ge=1)
    trial_participation: bool = param(
        True, "-", "Chrvala 2016",
        "the run reproduces a trial: the trial-participation terms apply in every arm "
        "(clinical.trial_drift_hba1c_pct on HbA1c, clinical.trial_participation_utility on "
        "QoL); a planning run sets false",
    )
    subgroups: Subgroups = Subgroups()


class Scenario(Section):
    """A whole scenario: population, network, program, behaviour, clinical, economics, run.

    And the lifetime stage after the agent-based stage.
    """

    name: str = param("scenario", "-", "-", "scenario name")
    description: str = param("", "-", "-", "free text")
    population: Population = Population()
    network: Network = Network()
    program: Program = Program()
    behaviour: Behaviour = Behaviour()
    clinical: Clinical = Clinical()
    economics: Economics = Economics()
    run: Run = Run()
    lifetime: Lifetime = Lifetime()

    _source: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _network_fits(self) -> Scenario:
        """The network's CSR arrays use 32-bit indices: refuse more than 2^31 - 1 entries.

        Rather than overflow silently (20M patients in groups of 200 with 200 background ties each
        would need 8 billion).
        """
        ties = self.population.size * self.network.ties_per_patient
        if ties > MAX_TIES:
            raise ValueError(
                f"the network would have about {ties:,} ties ({self.population.size:,} "
                f"patients x {self.network.ties_per_patient} each), over the {MAX_TIES:,} the "
                "model can index; reduce population.size, network.group_size or "
                "network.background.mean_degree")
        return self

    @property
    def source(self) -> str | None:
        """The file this scenario was loaded from, if any."""
        return self._source

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A copy with values set by dotted path, e.g. ``{"run.days": 30}``."""
        data = self.model_dump(mode="python")
        lines: dict[tuple[str, ...], Location] = {}
        for dotted, value in overrides.items():
            set_path(data, dotted, value)
            lines[tuple(dotted.split("."))] = ("override", None)
        out = validate(data, lines, label="override")
        out._source = self._source
        return out


# --------------------------------------------------------------------------- loading


def load_scenario(
    source: str | Path | dict[str, Any] | Scenario,
    overrides: dict[str, Any] | None = None,
) -> Scenario:
    """Load and validate a scenario from a YAML path or ready name, a dict or a Scenario.

    Args:
        source: YAML file path (``extends:`` resolved relative to it) or the name of a ready
            scenario (``designs/hybrid_kickoff``, ``sim.params.catalogue``), a plain dict
            (``extends`` resolved relative to the working directory) or a Scenario.
        overrides: values by dotted path, applied last.

    Raises:
        ScenarioError: naming the file, line and key path of the first problems.
    """
    if isinstance(source, Scenario):
        return source.with_overrides(overrides) if overrides else source
    if isinstance(source, dict):
        data, lines = _resolve_dict(dict(source), "<dict>", Path.cwd(), chain=())
        label, path = "<dict>", None
    else:
        path = resolve(source)
        data, lines = _resolve_file(path, chain=())
        label = str(path)
    for dotted, value in (overrides or {}).items():
        set_path(data, dotted, value)
        keys, where = tuple(dotted.split(".")), (f"--set {dotted}={_shown(value)}", None)
        for end in range(1, len(keys)):  # sections this option created are its own
            lines.setdefault(keys[:end], where)
        lines[keys] = where
    scenario = validate(data, lines, label=label)
    scenario._source = str(path) if path else None
    if scenario.network.background.kind == "edge_list":
        _check_edge_list(scenario, lines)
    return scenario


def parse_set(items: list[str]) -> dict[str, Any]:
    """Parse CLI ``--set a.b.c=value`` items; values are read as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError("expected key.path=value", file=f"--set {item}")
        if len(key) > MAX_KEY_CHARS:
            raise ScenarioError(f"the key path is over {MAX_KEY_CHARS} characters",
                                file=f"--set {cut(key.strip())}")
        out[key.strip()] = parse_value(raw, f"--set {key.strip()}") if raw.strip() else None
    return out


def _shown(value: Any) -> str:
    """A ``--set`` value as the user typed it (shortened), for error locations."""
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value).lower()
    if isinstance(value, str):
        return cut(value, 40)
    return short(value, 40)  # bounded, also for an integer too long for str


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``dotted == "a.b.c"``, creating mappings."""
    keys = dotted.split(".")
    node = data
    for i, key in enumerate(keys[:-1]):
        nxt = node.get(key)
        if nxt is None:
            nxt = node[key] = {}
        if not isinstance(nxt, dict):
            raise ScenarioError(
                f"cannot set '{dotted}': '{'.'.join(keys[: i + 1])}' is a value, not a section",
                path=dotted,
            )
        node = nxt
    node[keys[-1]] = value


MAX_EXTENDS_DEPTH = 20
"""Longest ``extends`` chain (files), far above any real layering of scenarios."""

_SCENARIO_KEYS = frozenset(Scenario.model_fields) | {"extends"}


def _resolve_file(
    path: Path, chain: tuple[Path, ...], used: int = 0, values: int = 0
) -> tuple[dict[str, Any], dict[tuple[str, ...], Location]]:
    """Read ``path`` and its ``extends`` parents; the children read ``used`` bytes, ``values``.

    The size and value limits hold for the whole chain, so one large file linked many times
    over is refused after the first read, not after reading each copy, and 20 files of
    200,000 values each (their key lines held at once) are refused too.
    """
    used += regular_file(path)
    if used > MAX_DOCUMENT_BYTES:
        raise ScenarioError(f"the 'extends' chain is over {MAX_DOCUMENT_BYTES:,} bytes in "
                            f"total, the limit for scenario files: {_chain_text(chain)}",
                            file=str(path))
    data, lines, count = read_document(path, MAX_NODES - values)
    if data and not any(key in _SCENARIO_KEYS or difflib.get_close_matches(
            key, _SCENARIO_KEYS, n=1, cutoff=0.6) for key in data):
        # its keys are its content (/etc/shadow read as YAML): never echo them
        raise ScenarioError("not a scenario file: none of its top-level keys is a scenario "
                            f"section ({', '.join(sorted(_SCENARIO_KEYS))})", file=str(path))
    return _resolve_dict(data, str(path), path.parent, chain=(*chain, _real(path)),
                         lines=lines, used=used, values=values + count)


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop (RuntimeError in 3.12)
        return path.absolute()


def _chain_text(chain: Sequence[Path]) -> str:
    names = [str(p) for p in chain]
    if len(names) > 6:
        names = [*names[:3], f"... ({len(names) - 5} more)", *names[-2:]]
    return " -> ".join(names)


def _resolve_dict(
    data: dict[str, Any],
    label: str,
    base_dir: Path,
    chain: tuple[Path, ...],
    lines: dict[tuple[str, ...], Location] | None = None,
    used: int = 0,
    values: int = 0,
) -> tuple[dict[str, Any], dict[tuple[str, ...], Location]]:
    lines = dict(lines or {})
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return _absolutise_paths(data, base_dir), lines
    line = lines.get(("extends",), (label, None))[1]
    if not isinstance(parent_ref, str):
        raise ScenarioError("'extends' must be a file path", file=label, line=line,
                            path="extends")
    parent_path = base_dir / parent_ref
    regular_file(parent_path, named_by="'extends'", file=label, line=line, key="extends")
    resolved = _real(parent_path)
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ScenarioError(f"'extends' cycle: {cycle}", file=label, line=line, path="extends")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(f"extends chain too deep (over {MAX_EXTENDS_DEPTH} files): "
                            f"{_chain_text((*chain, resolved))}", file=label, line=line,
                            path="extends")
    parent, parent_lines = _resolve_file(parent_path, chain, used, values)
    merged = _deep_merge(parent, _absolutise_paths(data, base_dir))
    parent_lines.update(lines)
    return merged, parent_lines


def _absolutise_paths(data: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Make file references (the edge list) relative to the file that names them."""
    bg = data.get("network", {})
    bg = bg.get("background") if isinstance(bg, dict) else None
    if isinstance(bg, dict) and isinstance(bg.get("edge_list"), str):
        bg["edge_list"] = str(_real(base_dir / bg["edge_list"]))
    return data


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def validate(
    data: dict[str, Any], lines: dict[tuple[str, ...], Location], label: str
) -> Scenario:
    """Validate a resolved dict; translate pydantic errors into one clear ScenarioError."""
    where = Located(label, lines, Scenario)
    return where.validate(Scenario, data)


def parameter_field(dotted: str) -> Any:
    """The pydantic FieldInfo of the scenario key at a dotted path (None if absent)."""
    model: type[BaseModel] | None = Scenario
    info = None
    for key in dotted.split("."):
        if model is None or key not in model.model_fields:
            return None
        info = model.model_fields[key]
        model = section_type(info.annotation)
    return info


def _all_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, fld in model.model_fields.items():
        out.append(prefix + name)
        sub = section_type(fld.annotation)
        if sub is not None:
            out += _all_paths(sub, f"{prefix}{name}.")
    return out


PARAMETER_PATHS = _all_paths(Scenario)
"""Every dotted path of the scenario schema (sections and parameters)."""

KEYWORD_PATHS = {path.replace(".", "_"): path for path in PARAMETER_PATHS}
"""Dotted paths by keyword name (``population_size`` -> ``population.size``; no two clash)."""


def keyword_overrides(parameters: dict[str, Any]) -> dict[str, Any]:
    """Dotted-path overrides from model keyword parameters (Mesa's ``batch_run`` style).

    A keyword is a dotted path with ``_`` for ``.`` (``population_size=500``) or the dotted
    path itself (``**{"population.size": 500}``).
    """
    out: dict[str, Any] = {}
    for key, value in parameters.items():
        dotted = key if key in KEYWORD_PATHS.values() else KEYWORD_PATHS.get(key)
        if dotted is None:
            close = difflib.get_close_matches(key, list(KEYWORD_PATHS), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ScenarioError(f"unknown model parameter '{key}': expected a scenario path "
                                f"with '_' for '.', e.g. population_size{hint}", path=key)
        out[dotted] = value
    return out


def check_parameter_path(where: Located, path: str, loc: Sequence[str], *,
                         numeric_for: str | None = None) -> Any:
    """The annotation of the scenario parameter at a dotted path.

    A located error with a did-you-mean when there is none, or (``numeric_for`` given: what only
    numbers can do) when it is not a number.
    """
    info = parameter_field(path)
    if info is None:
        close = difflib.get_close_matches(path, PARAMETER_PATHS, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise where.error(f"'{path}' is not a scenario parameter{hint} (see `peersupport "
                          "params` for every path)", loc)
    annotation = info.annotation
    if numeric_for and annotation not in (int, float):
        name = getattr(annotation, "__name__", None) or str(annotation)
        raise where.error(f"'{path}' is not a number ({name}); only numeric parameters "
                          f"{numeric_for}", loc)
    return annotation


def _check_edge_list(scenario: Scenario, lines: dict[tuple[str, ...], Location]) -> None:
    """Edge lists must exist and name patients 0..size-1 (checked at load time)."""
    bg = ("network", "background")
    # the line of edge_list, else of the kind that asks for one, else of the section
    file, line = lines.get((*bg, "edge_list")) or lines.get((*bg, "kind")) or lines.get(
        bg, (scenario.source or "<dict>", None))
    path = scenario.network.background.edge_list
    if path is None:
        raise ScenarioError("network.background.kind is edge_list but no edge_list file is "
                            "given", file=file, line=line, path="network.background.edge_list")
    try:
        read_edge_list(Path(path), scenario.population.size, where=(file, line))
    except ScenarioError:
        raise
    except (UnicodeDecodeError, csv.Error, OSError, ValueError) as exc:  # junk, huge fields
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise ScenarioError(f"cannot read edge list {path}: {reason}", file=file, line=line,
                            path="network.background.edge_list") from None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (for editors' completion and validation)."""
    schema = Scenario.model_json_schema()
    schema["properties"]["extends"] = {"type": "string",
                                       "description": "parent scenario file to inherit from"}
    return schema
