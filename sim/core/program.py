"""Program designs -> a per-day contact plan (which channels act on which day)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.params.scenario import OneToOne, Program, Schedule, SessionChannel


@dataclass(frozen=True)
class ContactPlan:
    """Day-indexed program schedule (index 0 = the first simulated day).

    Attributes:
        im_active: the IM groups are open.
        session_hours: hours of the in-person session held that day (0 = none; for groups
            offered sessions).
        session_attendance: factor on the attendance probability at that day's session.
        education_hours: curriculum hours delivered that day.
        education_attendance: factor on the attendance (or reach) of that day's education.
        offered: per group, whether it is offered in-person sessions (rollout share).
        call: a one-to-one call is scheduled (``program.one_to_one``).
    """

    im_active: np.ndarray
    session_hours: np.ndarray
    session_attendance: np.ndarray
    education_hours: np.ndarray
    education_attendance: np.ndarray
    offered: np.ndarray
    call: np.ndarray

    @property
    def days(self) -> int:
        """Length of the plan in days."""
        return self.im_active.shape[0]

    @property
    def session(self) -> np.ndarray:
        """Boolean per day: an in-person session is held."""
        return self.session_hours > 0

    @property
    def end_day(self) -> int:
        """The day the programme ends: after the last day any channel acts (index + 1).

        The plan's length when a channel acts on its last day or none acts at all (usual
        care runs to the horizon).
        """
        acts = self.im_active | self.session | (self.education_hours > 0) | self.call
        return int(np.flatnonzero(acts)[-1]) + 1 if acts.any() else self.days


def schedule_mask(schedule: Schedule, days: int) -> np.ndarray:
    """Boolean per day of the run: the schedule acts that day.

    Explicit ``days``, or evenly spaced from ``start_day`` before ``end_day``; days past the run
    are not reached.
    """
    mask = np.zeros(days, dtype=bool)
    if schedule.days is None:
        mask[schedule.start_day:min(schedule.end_day, days):schedule.every_days] = True
    else:
        mask[[d for d in schedule.days if d < days]] = True
    return mask


def _calls(channel: OneToOne, days: int) -> np.ndarray:
    """Boolean per day: a one-to-one call is scheduled by any of the channel's schedules."""
    call = np.zeros(days, dtype=bool)
    for schedule in channel.timetable:
        call |= schedule_mask(schedule, days)
    return call


def _sessions(channel: SessionChannel, days: int, combine: np.ufunc
              ) -> tuple[np.ndarray, np.ndarray]:
    """Hours and attendance factor per day over a channel's schedules.

    Where schedules meet on one day, ``combine`` merges their hours (``np.maximum``: one session,
    the longest; ``np.add``: the curriculum hours add up) and the larger attendance factor holds.
    A schedule of 0-hour sessions holds none.
    """
    hours, factor = np.zeros(days), np.zeros(days)
    for schedule in channel.timetable:
        held = schedule_mask(schedule, days) & (schedule.hours_per_session > 0)
        combine(hours, held * schedule.hours_per_session, out=hours)
        np.maximum(factor, held * schedule.attendance_factor, out=factor)
    return hours, factor


def contact_plan(program: Program, days: int, n_groups: int, rng: np.random.Generator
                 ) -> ContactPlan:
    """Expand a design into its daily schedule.

    Groups offered in-person sessions are the first ``groups_share`` of a random order
    drawn from the program stream, so a wider rollout keeps the groups a narrower one
    had (common random numbers across designs).
    """
    im = np.zeros(days, dtype=bool)
    im[program.im.start_day:min(program.im.end_day, days)] = True
    session_hours, session_attendance = _sessions(program.in_person, days, np.maximum)
    education_hours, education_attendance = _sessions(program.education, days, np.add)
    rank = np.argsort(rng.random(n_groups), kind="stable")
    offered = np.zeros(n_groups, dtype=bool)
    offered[rank[: int(round(program.in_person.groups_share * n_groups))]] = True
    return ContactPlan(im_active=im, session_hours=session_hours,
                       session_attendance=session_attendance, education_hours=education_hours,
                       education_attendance=education_attendance, offered=offered,
                       call=_calls(program.one_to_one, days))
