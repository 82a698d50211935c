"""Program designs -> a per-day contact plan (which channels act on which day)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.params.scenario import Education, InPerson, Program


@dataclass(frozen=True)
class ContactPlan:
    """Day-indexed program schedule (index 0 = the first simulated day).

    Attributes:
        im_active: the IM groups are open.
        session: an in-person session is held (for groups offered sessions).
        education_hours: curriculum hours delivered that day.
        offered: per group, whether it is offered in-person sessions (rollout share).
    """

    im_active: np.ndarray
    session: np.ndarray
    education_hours: np.ndarray
    offered: np.ndarray

    @property
    def days(self) -> int:
        """Length of the plan in days."""
        return self.im_active.shape[0]

    @property
    def end_day(self) -> int:
        """The day the programme ends: after the last day any channel acts (index + 1).

        The plan's length when a channel acts on its last day or none acts at all (usual
        care runs to the horizon).
        """
        acts = self.im_active | self.session | (self.education_hours > 0)
        return int(np.flatnonzero(acts)[-1]) + 1 if acts.any() else self.days


def _schedule(channel: InPerson | Education, days: int) -> np.ndarray:
    """Boolean per day of the run: the channel meets that day.

    Explicit ``days``, or evenly spaced from ``start_day`` before ``end_day``; days past the run are
    dropped.
    """
    mask = np.zeros(days, dtype=bool)
    if channel.days is None:
        mask[channel.start_day:min(channel.end_day, days):channel.every_days] = True
    else:
        mask[[d for d in channel.days if d < days]] = True
    return mask


def contact_plan(program: Program, days: int, n_groups: int, rng: np.random.Generator
                 ) -> ContactPlan:
    """Expand a design into its daily schedule.

    Groups offered in-person sessions are the first ``groups_share`` of a random order
    drawn from the program stream, so a wider rollout keeps the groups a narrower one
    had (common random numbers across designs).
    """
    im = np.zeros(days, dtype=bool)
    im[program.im.start_day:min(program.im.end_day, days)] = True
    ip = program.in_person
    session = _schedule(ip, days)
    if ip.hours_per_session == 0:
        session[:] = False
    ed = program.education
    hours = _schedule(ed, days) * ed.hours_per_session
    rank = np.argsort(rng.random(n_groups), kind="stable")
    offered = np.zeros(n_groups, dtype=bool)
    offered[rank[: int(round(ip.groups_share * n_groups))]] = True
    return ContactPlan(im_active=im, session=session, education_hours=hours.astype(np.float64),
                       offered=offered)
