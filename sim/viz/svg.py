"""SVG drawings of a ClassroomModel: the peer network of each arm and the time series.

Plain SVG strings, built with numpy: a 300-patient frame (two networks and four charts)
takes a few milliseconds, stays sharp on a classroom projector at any size, and needs no
JavaScript library (the page works offline). Static parts (layout, background ties,
axes) are computed once per model; a frame only re-colours nodes, re-sizes them and
re-weights group ties.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass
from html import escape

import numpy as np
from scipy.spatial import cKDTree

from sim.viz.classroom import Arm, ClassroomModel

ARM_COLOURS = ("#e66101", "#5e3c99")
"""Arm A orange, arm B purple (a colour-blind-safe pair, PuOr)."""
ARM_DASHES = ("", "9 5")
TIE_COLOUR = "#253047"
ADHERENT_PDC = 0.8
# Node colour by PDC: reds below 0.8 (not adherent), blues from 0.8 (adherent).
PDC_STOPS = np.array([0.0, 0.5, ADHERENT_PDC - 1e-9, ADHERENT_PDC, 1.0])
PDC_RGB = np.array([[140, 13, 13], [227, 74, 51], [253, 187, 132], [158, 202, 225],
                    [8, 81, 156]], dtype=np.float64)
STRENGTH_LEVELS = 10
"""Group ties are drawn in this many strength classes (one SVG path each)."""


def pdc_colours(pdc: np.ndarray) -> list[str]:
    """Hex colour of each PDC value (the page's legend shows the same scale)."""
    x = np.clip(np.nan_to_num(pdc, nan=0.0), 0.0, 1.0)
    rgb = np.column_stack([np.interp(x, PDC_STOPS, PDC_RGB[:, c]) for c in range(3)])
    rgb = np.rint(rgb).astype(np.int64)
    packed = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    return [f"#{v:06x}" for v in packed.tolist()]


def _segments(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """'M x y L x y' path pieces, one per segment (numpy array of str)."""
    return np.array([f"M{x1:.1f} {y1:.1f}L{x2:.1f} {y2:.1f}"
                     for x1, y1, x2, y2 in np.column_stack([a, b]).tolist()], dtype=object)


class NetworkSVG:
    """The peer network of one arm.

    Nodes are coloured by PDC (recent adherence) and sized by IM engagement (area);
    peer leaders have a black ring. Group ties are drawn with width and opacity rising
    with their strength (rapport); background ties are thin and faint (darker on the
    ring layout, where they carry the lesson).
    """

    def __init__(self, arm: Arm, positions: np.ndarray, *, ring: bool, size: int = 520,
                 arm_index: int = 0) -> None:
        self.arm = arm
        self.size = size
        self.arm_index = arm_index
        self.lock = threading.Lock()
        pad = 12.0
        lo, hi = positions.min(axis=0), positions.max(axis=0)
        span = float((hi - lo).max()) or 1.0
        scale = (size - 2 * pad) / span
        centre = (lo + hi) / 2
        xy = np.empty_like(positions, dtype=np.float64)
        xy[:, 0] = size / 2 + (positions[:, 0] - centre[0]) * scale
        xy[:, 1] = size / 2 - (positions[:, 1] - centre[1]) * scale
        self.xy = xy
        n = xy.shape[0]
        spacing = float(np.median(cKDTree(xy).query(xy, k=2)[0][:, 1])) if n > 1 else 10.0
        self.max_radius = float(np.clip(0.5 * spacing * (1.8 if ring else 1.0), 1.5, 9.0))
        bi, bj = arm.pairs["background"]
        opacity = 0.2 if ring else 0.07
        width = 0.8 if ring else 0.6
        self.background = (
            f'<path d="{"".join(_segments(xy[bi], xy[bj]))}" stroke="{TIE_COLOUR}" '
            f'stroke-opacity="{opacity}" stroke-width="{width}" fill="none"/>'
            if bi.size else "")
        gi, gj, self.group_where = arm.pairs["group"]
        self.group_segments = _segments(xy[gi], xy[gj]) if gi.size else np.array([], object)
        net = arm.model.network
        self.leader = net.leader.copy()
        self.coords = [f'cx="{x:.1f}" cy="{y:.1f}"' for x, y in xy.tolist()]
        self.labels = [f"patient {i}, group {g}{' (peer leader)' if ld else ''}"
                       for i, (g, ld) in enumerate(zip(net.group_id.tolist(),
                                                       self.leader.tolist(), strict=True))]

    def _group_ties(self) -> str:
        strength = np.clip(self.arm.model.network.group.data[self.group_where], 0.0, 1.0)
        level = np.ceil(strength * STRENGTH_LEVELS).astype(np.int64)
        parts = []
        for k in range(1, STRENGTH_LEVELS + 1):
            idx = np.flatnonzero(level == k)
            if idx.size == 0:
                continue
            s = k / STRENGTH_LEVELS
            parts.append(f'<path d="{"".join(self.group_segments[idx])}" '
                         f'stroke="{TIE_COLOUR}" stroke-opacity="{0.06 + 0.7 * s:.2f}" '
                         f'stroke-width="{0.3 + 2.7 * s:.2f}" fill="none"/>')
        return "".join(parts)

    def render(self) -> str:
        """Today's network as an SVG element."""
        with self.lock:
            m = self.arm.model
            colours = pdc_colours(m.pdc)
            radius = self.max_radius * np.sqrt(0.15 + 0.85 * np.clip(m.engagement, 0.0, 1.0))
            pdc, eng = m.pdc.tolist(), m.engagement.tolist()
            circles = []
            for i, (c, r) in enumerate(zip(colours, radius.tolist(), strict=True)):
                ring = ' stroke="#000" stroke-width="1.4"' if self.leader[i] else \
                    ' stroke="#fff" stroke-width="0.4"'
                circles.append(f'<circle {self.coords[i]} r="{r:.2f}" fill="{c}"{ring}>'
                               f'<title>{self.labels[i]}: PDC {pdc[i]:.2f}, engagement '
                               f'{eng[i]:.2f}</title></circle>')
            return (f'<svg class="ps-network" data-arm="{"AB"[self.arm_index]}" '
                    f'data-day="{m.day}" viewBox="0 0 {self.size} {self.size}" '
                    f'width="100%" role="img" aria-label="peer network of arm '
                    f'{"AB"[self.arm_index]}" xmlns="http://www.w3.org/2000/svg">'
                    f'{self.background}{self._group_ties()}{"".join(circles)}</svg>')


def nice_ticks(lo: float, hi: float, target: int = 4) -> np.ndarray:
    """About ``target`` round tick values covering [lo, hi] (steps 1, 2, 2.5 or 5 x 10^k)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return np.array([lo])
    raw = (hi - lo) / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    return np.arange(start, hi + step * 1e-6, step)


def _fmt(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    decimals += 1 if abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6 else 0
    return f"{value:.{decimals}f}"


@dataclass(frozen=True)
class Panel:
    """One time-series chart: reporter key, title, unit scale, smallest y span shown."""

    key: str
    title: str
    scale: float
    min_span: float


PANELS = (
    Panel("adherent_share", "Adherent (PDC \u2265 0.8), % of patients", 100.0, 10.0),
    Panel("hba1c_mean", "Mean HbA1c, %", 1.0, 0.3),
    Panel("utility_mean", "Mean quality of life (EQ-5D)", 1.0, 0.02),
    Panel("engagement_mean", "Mean IM engagement (0-1)", 1.0, 0.1),
)


class ChartSVG:
    """A line chart of one outcome, every arm overlaid, day 0 to the scenario's end.

    The IM group's open period is shaded; in-person session days are dotted lines in
    the colour of the arm that has them.
    """

    W, H = 360, 220
    LEFT, RIGHT, TOP, BOTTOM = 56, 10, 10, 40

    def __init__(self, model: ClassroomModel, panel: Panel) -> None:
        self.model = model
        self.panel = panel
        self.lock = threading.Lock()
        self.x_ticks = nice_ticks(0, model.days, 4)
        plan = model.arms[0].model.plan
        self.im_days = np.flatnonzero(plan.im_active)
        self.sessions = [np.flatnonzero(arm.model.plan.session) for arm in model.arms]

    def _x(self, day: np.ndarray | float) -> np.ndarray | float:
        return self.LEFT + (self.W - self.LEFT - self.RIGHT) * np.asarray(day) / max(
            self.model.days, 1)

    def render(self) -> str:
        """The chart so far as an SVG element."""
        with self.lock:
            p = self.panel
            ys = [arm.series(p.key) * p.scale for arm in self.model.arms]
            finite = np.concatenate([y[np.isfinite(y)] for y in ys])
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0., 1.)
            mid, span = (lo + hi) / 2, max(hi - lo, p.min_span) * 1.1
            y0, y1 = mid - span / 2, mid + span / 2
            plot_h = self.H - self.TOP - self.BOTTOM

            def y_px(v: np.ndarray | float) -> np.ndarray | float:
                return self.TOP + plot_h * (1 - (np.asarray(v) - y0) / (y1 - y0))

            out = [f'<svg class="ps-chart" data-key="{p.key}" viewBox="0 0 {self.W} '
                   f'{self.H}" width="100%" role="img" aria-label="{escape(p.title)}" '
                   f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" '
                   f'font-size="16">']
            if self.im_days.size:
                x_a, x_b = self._x(self.im_days[0]), self._x(self.im_days[-1] + 1)
                out.append(f'<rect x="{x_a:.1f}" y="{self.TOP}" width="{x_b - x_a:.1f}" '
                           f'height="{plot_h}" fill="#e3ecf7"><title>IM group open</title>'
                           f'</rect>')
            y_ticks = nice_ticks(y0, y1, 4)
            step = float(y_ticks[1] - y_ticks[0]) if y_ticks.size > 1 else 1.0
            for v in y_ticks:
                yy = y_px(v)
                out.append(f'<line x1="{self.LEFT}" x2="{self.W - self.RIGHT}" y1="{yy:.1f}" '
                           f'y2="{yy:.1f}" stroke="#ccc" stroke-width="0.8"/>'
                           f'<text x="{self.LEFT - 6}" y="{yy + 5:.1f}" text-anchor="end" '
                           f'fill="#333">{_fmt(float(v), step)}</text>')
            base = self.H - self.BOTTOM
            for v in self.x_ticks:
                xx = self._x(v)
                out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{base}" y2="{base + 4}" '
                           f'stroke="#555"/><text x="{xx:.1f}" y="{base + 20}" '
                           f'text-anchor="middle" fill="#333">{int(v)}</text>')
            out.append(f'<text x="{(self.LEFT + self.W - self.RIGHT) / 2}" '
                       f'y="{self.H - 2}" text-anchor="middle" fill="#555">day</text>'
                       f'<line x1="{self.LEFT}" x2="{self.W - self.RIGHT}" y1="{base}" '
                       f'y2="{base}" stroke="#555"/>')
            for k, days in enumerate(self.sessions):
                for d in days.tolist():
                    xx = self._x(d)
                    out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{self.TOP}" '
                               f'y2="{base}" stroke="{ARM_COLOURS[k]}" stroke-width="1.5" '
                               f'stroke-dasharray="2 3" opacity="0.7"/>')
            for k, y in enumerate(ys):
                if y.size == 0:
                    continue
                pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(
                    self._x(np.arange(y.size)).tolist(), y_px(y).tolist(), strict=True))
                dash = f' stroke-dasharray="{ARM_DASHES[k]}"' if ARM_DASHES[k] else ""
                out.append(f'<polyline points="{pts}" fill="none" stroke="{ARM_COLOURS[k]}" '
                           f'stroke-width="3"{dash} stroke-linejoin="round"/>')
            out.append("</svg>")
            return "".join(out)


class Drawings:
    """Every drawing of one model (built once, on first use)."""

    def __init__(self, model: ClassroomModel) -> None:
        ring = model.layout_name == "ring"
        self.networks = [NetworkSVG(arm, model.positions, ring=ring, arm_index=k)
                         for k, arm in enumerate(model.arms)]
        self.charts = [ChartSVG(model, panel) for panel in PANELS]


_DRAWINGS: weakref.WeakKeyDictionary[ClassroomModel, Drawings] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def drawings(model: ClassroomModel) -> Drawings:
    """The (cached) drawings of ``model``."""
    with _LOCK:
        found = _DRAWINGS.get(model)
        if found is None:
            found = _DRAWINGS[model] = Drawings(model)
        return found


def render_frame(model: ClassroomModel) -> dict[str, list[str]]:
    """Every drawing for today: {"networks": [svg per arm], "charts": [svg per panel]}."""
    d = drawings(model)
    return {"networks": [n.render() for n in d.networks],
            "charts": [c.render() for c in d.charts]}
