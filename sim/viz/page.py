"""The dashboard's main area as HTML: status, legend, one card per arm, the charts.

Pure string building (no Solara): the Solara app puts the result in one HTML element,
so a frame is a single update. Every number a test or a student reads carries
``data-arm`` and ``data-key`` attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np

from sim.core.outcomes import top_share
from sim.viz.classroom import Arm, ClassroomModel
from sim.viz.lessons import Lesson
from sim.viz.measures import posters_share
from sim.viz.svg import ARM_COLOURS, PANELS, PDC_RGB, PDC_STOPS, render_frame

CSS = """
.v-navigation-drawer .v-slider.v-input { margin-top: 30px; }
.ps-root { font-family: Roboto, "Helvetica Neue", Arial, sans-serif; color: #1d1d1f;
  font-size: 17px; line-height: 1.35; padding: 4px 8px 24px 8px; }
.ps-status { display: flex; flex-wrap: wrap; gap: 6px 22px; align-items: baseline;
  font-size: 19px; margin: 2px 0 8px 0; }
.ps-day { font-size: 28px; font-weight: 700; }
.ps-hint { color: #444; font-size: 15px; margin: 0 0 8px 0; }
.ps-warning { background: #fff3cd; border: 1px solid #e0c36a; padding: 6px 10px;
  border-radius: 6px; margin: 4px 0 8px 0; }
.ps-lesson { background: #eef4fb; border-left: 5px solid #2c6fb7; padding: 8px 12px;
  border-radius: 4px; margin: 4px 0 10px 0; font-size: 16px; }
.ps-legend { display: flex; flex-wrap: wrap; gap: 6px 26px; align-items: center;
  font-size: 15px; color: #333; margin: 0 0 10px 0; }
.ps-bar { display: inline-block; width: 170px; height: 14px; border-radius: 3px;
  vertical-align: middle; margin: 0 6px; border: 1px solid #999; }
.ps-dot { display: inline-block; border-radius: 50%; background: #4a7fb5;
  vertical-align: middle; margin: 0 3px; }
.ps-arms { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr));
  gap: 16px; }
.ps-arm { border: 1px solid #d6d6d6; border-top: 7px solid var(--arm); border-radius: 8px;
  padding: 8px 12px 10px 12px; background: #fff; }
.ps-arm h2 { font-size: 21px; margin: 2px 0 4px 0; color: var(--arm); font-weight: 700; }
.ps-arm-body { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
.ps-arm-body > .ps-net { flex: 1 1 300px; max-width: 560px; }
.ps-arm-body > .ps-table { flex: 1 1 215px; max-width: 270px; }
.ps-stats { border-collapse: collapse; width: 100%; font-size: 16px; }
.ps-stats td { padding: 3px 3px; border-bottom: 1px solid #eee; vertical-align: baseline;
  white-space: nowrap; }
.ps-stats td.ps-value { text-align: right; font-weight: 700; font-size: 19px;
  white-space: nowrap; }
.ps-stats td.ps-change { text-align: right; color: #555; font-size: 14px; white-space: nowrap; }
.ps-charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr));
  gap: 10px 18px; margin-top: 16px; }
.ps-chart-card h3 { font-size: 17px; font-weight: 600; margin: 0 0 2px 0; }
.ps-key { font-size: 15px; margin: 10px 0 0 0; display: flex; gap: 24px; flex-wrap: wrap; }
.ps-key span.line { display: inline-block; width: 34px; height: 0; vertical-align: middle;
  border-top: 4px solid; margin-right: 6px; }
"""


@dataclass(frozen=True)
class Stat:
    """One row of an arm's table: key, label, format, scale for the change since day 0."""

    key: str
    label: str
    fmt: str
    change_fmt: str | None
    help: str


STATS = (
    Stat("adherent_share", "Adherent", "{:.1%}", "{:+.1f} pp",
         "share of patients with PDC \u2265 0.8 (took at least 80% of doses lately)"),
    Stat("hba1c_mean", "Blood sugar (HbA1c)", "{:.2f}%", "{:+.2f}",
         "mean HbA1c (%), the average blood sugar of the last months: lower is better"),
    Stat("utility_mean", "Quality of life", "{:.3f}", "{:+.3f}",
         "mean quality of life, EQ-5D utility (1 = full health)"),
    Stat("engagement_mean", "Reads the group chat", "{:.2f}", "{:+.2f}",
         "mean engagement with the instant-messaging group (0-1): how much of it a "
         "patient reads"),
    Stat("tie_strength_mean", "Group rapport", "{:.2f}", "{:+.2f}",
         "mean strength of the ties between group members (rapport, 0-1)"),
    Stat("friends_correlation", "Friends alike", "{:.2f}", None,
         "how alike friends are in taking their medicine: the correlation (r, -1 to 1) of "
         "adherence (PDC) between tied patients; 0 = no more alike than strangers"),
    Stat("posters_share", "Ever posted", "{:.0%}", None,
         "share of group members (leaders excluded) who have posted at least once"),
    Stat("top1_share", "Top 1% wrote", "{:.0%}", None,
         "share of all member posts written by the 1% most active members"),
)


def arm_values(arm: Arm) -> dict[str, float]:
    """Today's value of every statistic of an arm."""
    m = arm.model
    members = ~m.network.leader
    out = {key: float(arm.series(key)[-1]) for key in
           ("adherent_share", "hba1c_mean", "utility_mean", "engagement_mean",
            "tie_strength_mean")}
    out["friends_correlation"] = arm.friends_correlation()
    out["posters_share"] = posters_share(m.posts_total, members)
    out["top1_share"] = top_share(m.posts_total[members])
    return out


def _change(stat: Stat, arm: Arm, value: float) -> str:
    if stat.change_fmt is None:
        return ""
    first = float(arm.series(stat.key)[0])
    delta = (value - first) * (100.0 if stat.key == "adherent_share" else 1.0)
    return stat.change_fmt.format(delta)


def _fmt(stat: Stat, value: float) -> str:
    return "n/a" if not np.isfinite(value) else stat.fmt.format(value)


IM_STATS = {"engagement_mean", "posters_share", "top1_share"}
GROUP_STATS = {"tie_strength_mean"}


def has_im(model: ClassroomModel) -> bool:
    """Whether any arm runs an IM group."""
    return any(arm.model.plan.im_active.any() for arm in model.arms)


def has_group_ties(model: ClassroomModel) -> bool:
    """Whether group ties can carry anything in any arm (rapport above zero, or sessions)."""
    return any(arm.model.network.group.nnz and (
        arm.scenario.network.initial_group_strength > 0
        or arm.scenario.network.strength_floor > 0 or arm.model.plan.session.any())
        for arm in model.arms)


def shown_stats(model: ClassroomModel) -> list[Stat]:
    """The table rows that mean something for this model (no IM rows without IM)."""
    hide = (set() if has_im(model) else IM_STATS) | (
        set() if has_group_ties(model) else GROUP_STATS)
    return [s for s in STATS if s.key not in hide]


def stats_table(arm: Arm, letter: str, stats: list[Stat] | None = None) -> str:
    """The arm's table: today's values and their change since day 0."""
    values = arm_values(arm)
    rows = [f'<tr title="{escape(s.help)}"><td>{escape(s.label)}</td>'
            f'<td class="ps-value" data-arm="{letter}" '
            f'data-key="{s.key}">{_fmt(s, values[s.key])}</td><td class="ps-change">'
            f'{_change(s, arm, values[s.key])}</td></tr>' for s in (stats or STATS)]
    return (f'<table class="ps-stats"><tr><td></td><td class="ps-change">now</td>'
            f'<td class="ps-change">vs day 0</td></tr>{"".join(rows)}</table>')


def status_text(model: ClassroomModel) -> str:
    """Where the run is: not started, under way (playing or paused) or finished."""
    if not model.running:
        return "finished"
    return "not started: press STEP or \u25B6" if model.day == 0 else "under way"


def _days_text(days: np.ndarray) -> str:
    if days.size == 0:
        return "none"
    if days.size > 6:
        return f"{days.size} sessions, days {days[0]} to {days[-1]}"
    return "days " + ", ".join(str(d) for d in days.tolist())


def schedule_text(arm: Arm) -> str:
    """The arm's program in words."""
    plan = arm.model.plan
    im = np.flatnonzero(plan.im_active)
    parts = [f"IM group days {im[0]}\u2013{im[-1]}" if im.size else "no IM group",
             f"in-person sessions: {_days_text(np.flatnonzero(plan.session))}"]
    if arm.scenario.program.champions_share > 0:
        parts.append(f"{arm.scenario.program.champions_share:.0%} champions")
    return "; ".join(parts)


def levers_text(model: ClassroomModel) -> str:
    """The settings both arms run with now (the lever being compared is per arm)."""
    lv = model.levers
    contagion = (f"complex contagion, threshold {lv.threshold}" if lv.contagion == "complex"
                 else "simple contagion")
    parts = [f"IM posts {lv.posts_per_week:.1f}/member/week"] if has_im(model) else []
    parts += [f"peer influence {lv.peer_influence:.2f}", contagion]
    if model.arms[0].scenario.network.background.kind == "small_world":
        parts.append(f"rewiring {lv.rewiring:.2f}")
    if has_group_ties(model):
        parts.append(f"groups of {lv.group_size}")
    parts.append(f"layout {model.layout_name}")
    return "Running with: " + " \u00b7 ".join(parts)


def legend() -> str:
    """What the network drawings' colours, sizes and lines mean."""
    stops = ", ".join(f"rgb({r:.0f},{g:.0f},{b:.0f}) {100 * s:.2f}%"
                      for s, (r, g, b) in zip(np.clip(PDC_STOPS, 0, 1), PDC_RGB, strict=True))
    return (
        '<div class="ps-legend">'
        f'<span>Colour: medicine taken lately (PDC, share of days covered) 0'
        f'<span class="ps-bar" style="background: linear-gradient(to right, {stops});">'
        '</span>1 &nbsp;(blue = adherent, PDC \u2265 0.8)</span>'
        '<span>Size: IM engagement <span class="ps-dot" style="width:6px;height:6px">'
        '</span><span class="ps-dot" style="width:14px;height:14px"></span></span>'
        '<span><span class="ps-dot" style="width:12px;height:12px;border:2px solid #000">'
        '</span> peer leader</span>'
        '<span>Lines: ties; darker and thicker = stronger rapport</span></div>')


def page_html(model: ClassroomModel, lesson: Lesson | None = None) -> str:
    """The whole main area for today."""
    frame = render_frame(model)
    arms = model.arms
    n = arms[0].model.n
    out = ['<div class="ps-root">',
           f'<div class="ps-status"><span class="ps-day" data-key="day">Day {model.day}'
           f'</span><span>of {model.days}</span><span>seed <b data-key="seed">'
           f'{model.seed_used}</b></span><span><b>{n:,}</b> patients'
           f'{" in each arm (the same people)" if len(arms) > 1 else ""}</span>'
           f'<span data-key="status">{status_text(model)}</span>'
           '</div>']
    for w in model.warnings:
        out.append(f'<div class="ps-warning">{escape(w)}</div>')
    if lesson is not None:
        out.append(f'<div class="ps-lesson"><b>Lesson: {escape(lesson.title)}.</b> '
                   f'{escape(lesson.look_for)} <i>Teacher\'s sheet: {escape(lesson.sheet)}</i>'
                   '</div>')
    out.append(f'<div class="ps-hint" data-key="levers">{escape(levers_text(model))}</div>')
    out.append('<div class="ps-hint">Moved a control? Press <b>RESET</b> to rebuild the '
               'arms with it (same seed = same patients). <b>STEP</b> advances "Days per '
               'step"; \u25B6 plays, \u275A\u275A pauses. Point at a row for what it means.'
               '</div>')
    out.append(legend())
    out.append('<div class="ps-arms">')
    stats = shown_stats(model)
    for k, arm in enumerate(arms):
        letter = "AB"[k]
        out.append(
            f'<div class="ps-arm" data-arm="{letter}" style="--arm: {ARM_COLOURS[k]}">'
            f'<h2>{escape(arm.label)}</h2>'
            f'<div class="ps-hint">{escape(schedule_text(arm))}</div>'
            f'<div class="ps-arm-body"><div class="ps-net">{frame["networks"][k]}</div>'
            f'<div class="ps-table">{stats_table(arm, letter, stats)}</div></div></div>')
    out.append('</div><div class="ps-charts">')
    for panel, svg in zip(PANELS, frame["charts"], strict=True):
        if panel.key == "engagement_mean" and not has_im(model):
            continue
        out.append(f'<div class="ps-chart-card"><h3>{escape(panel.title)}</h3>{svg}</div>')
    out.append('</div><div class="ps-key">')
    for k, arm in enumerate(arms):
        style = f"border-color: {ARM_COLOURS[k]};" + (" border-top-style: dashed;" if k else "")
        out.append(f'<span><span class="line" style="{style}"></span>{escape(arm.label)}</span>')
    out.append('<span>shaded: IM group open; dotted: in-person sessions</span></div></div>')
    return "".join(out)
