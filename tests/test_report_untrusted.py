"""Untrusted names and titles in reports: text in HTML and Markdown, literal in Matplotlib.

Issue 18, item 1: a scenario name or manifest title with a newline and ``![x](/path)`` made
the sensitivity summary embed that file; ``<script>`` stayed raw in summary.md. Item 7: a
``$\\foo$`` in a name crashed Matplotlib's mathtext parser.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt

from sim.analyses.sensitivity import Input, run_function
from sim.report.render import markdown_html, md_escape, mpl_text
from sim.report.sensitivity_report import write_report

HOSTILE = "evil\n![x](/etc/passwd)\n<script>alert(1)</script> $\\foo$ **b** [l](/etc/hosts)"
"""A title that tries an image, a script, mathtext, emphasis and a link."""


def _qol(params: dict[str, float], rng: np.random.Generator) -> dict[str, float]:
    return {"qol_change": 3 * params["a"] + params["b"] + rng.normal(0.0, 0.1)}


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small sensitivity report whose title is hostile."""
    inputs = [Input("a", 0.0, 1.0), Input("b", 0.0, 1.0)]
    result = run_function(_qol, inputs, "morris", 6, seed=3, replications=2,
                          num_resamples=50)
    return write_report(result, tmp_path_factory.mktemp("sa"), title=HOSTILE,
                        primary_output="qol_change")


def test_sensitivity_markdown_keeps_hostile_title_as_text(hostile_report) -> None:
    text = hostile_report["summary_md"].read_text()
    first = text.splitlines()[0]
    assert first.startswith("# evil") and "/etc/passwd" in first, "the title stays one line"
    rendered = MarkdownIt("commonmark").render(text)  # any renderer, raw HTML allowed
    assert "<script" not in rendered and "/etc/passwd\"" not in rendered
    assert not re.search(r'<img src="/', rendered), "no image from a path in the title"
    assert 'href="/etc/hosts"' not in rendered, "no link from the title"
    assert "&lt;script&gt;" in rendered, "the script tag is shown as text"


def test_sensitivity_html_embeds_only_its_own_figures(hostile_report) -> None:
    page = hostile_report["summary_html"].read_text()
    assert "<script" not in page
    figures = [role for role in hostile_report if role.startswith("fig_")]
    assert page.count("<img") == page.count("data:image/png;base64,") == len(figures) >= 2, (
        "only the figures the report wrote are embedded")
    assert 'src="/etc' not in page and 'href="/etc' not in page
    assert "![x](/etc/passwd)" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_md_escape_makes_any_name_literal() -> None:
    for name in ("usual_care", "- x", "1. x", "# h", "*b* _i_", "a|b", "<b>&amp;",
                 "![x](/etc/passwd)", "[l](u)", "x\\", "`code`"):
        html = markdown_html(md_escape(name)).strip()
        assert html.startswith("<p>") and "<img" not in html and "<a " not in html, name
        assert "<b>" not in html and "<em>" not in html and "<code>" not in html, name


def test_mpl_text_draws_dollars_literally(tmp_path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(mpl_text("$\\foo$ design"))
    ax.plot([0, 1], label=mpl_text("cost in $ and $\\frac{1}{0}$"))
    ax.legend()
    fig.savefig(tmp_path / "ok.png")  # raises ParseFatalException without the escaping
    with pytest.raises(ValueError):
        bad = Figure()
        FigureCanvasAgg(bad)
        bad.add_subplot().set_title("$\\foo$ design")
        bad.savefig(tmp_path / "bad.png")


def test_compare_report_with_hostile_design_name(tmp_path: Path, capsys) -> None:
    """A design named with mathtext, a script tag and an image renders as text everywhere."""
    from sim.cli import main as cli

    from .test_compare import DESIGNS

    evil = "evil $\\foo$ <script>x</script> ![x](/etc/passwd)"
    (tmp_path / "evil.yaml").write_text(
        f"extends: {DESIGNS}/usual_care.yaml\nprogram:\n  name: '{evil}'\n")
    (tmp_path / "compare.yaml").write_text(
        f"name: hostile\ndesigns:\n  - {DESIGNS}/usual_care.yaml\n  - evil.yaml\n"
        "comparator: usual_care\nreplications: 2\nseed: 1\nset: {population.size: 100}\n"
        "horizon_days: 30\n")
    report = tmp_path / "r.html"
    code = cli.main(["compare", str(tmp_path / "compare.yaml"), "--report", str(report),
                     "--executor", "serial", "--no-progress"])
    capsys.readouterr()
    assert code == 0
    page = report.read_text()
    assert "<script" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<img" not in page and 'src="/etc' not in page
    summary = (tmp_path / "r_data" / "summary.md").read_text()
    rendered = MarkdownIt("commonmark").render(summary)
    assert "<script" not in rendered and "<img" not in rendered
