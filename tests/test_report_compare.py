"""The planners' report: self-contained HTML, every number exported, renders in Chromium."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

from sim.analyses.compare import CompareResult
from sim.report.compare_report import write_report

from .test_compare import tiny_result  # noqa: F401 (the shared module fixture)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
SECTIONS = ("summary", "lifetime", "incremental", "results", "timecourses", "uncertainty",
            "subgroups", "assumptions", "provenance")
FIGURES = ("fig-cuminc", "fig-costs", "fig-adherent_share", "fig-hba1c_mean", "fig-utility_mean",
           "fig-engagement_mean", "fig-ceplane", "fig-ceac", "fig-evpi", "fig-subgroups")
"""Every figure of the report, by element id, in page order."""


@pytest.fixture(scope="module")
def report(tiny_result: CompareResult, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """The tiny comparison's report."""
    return write_report(tiny_result, tmp_path_factory.mktemp("report") / "report.html")[
        "report"]


def test_report_is_self_contained(report: Path, tiny_result: CompareResult) -> None:  # noqa: F811
    text = report.read_text()
    assert "<script" not in text, "no scripts: nothing to run, nothing to fetch"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "no network links"
    assert "<link" not in text and "@import" not in text
    assert not re.search(r"url\((?!#)", text), "only in-document references (SVG clip paths)"
    tornados = len(tiny_result.decision.metamodel)  # one tornado per design vs the comparator
    assert text.count("<svg") == len(FIGURES) + tornados, "every figure is inline SVG"


def test_report_sections_in_order(report: Path, tiny_result: CompareResult) -> None:  # noqa: F811
    text = report.read_text()
    positions = [text.index(f'<section id="{s}"') for s in SECTIONS]
    assert positions == sorted(positions), "summary first, provenance last"
    figure_positions = [text.index(f'id="{f}"') for f in FIGURES]
    assert figure_positions == sorted(figure_positions)
    summary = text[positions[0]:positions[1]]
    assert "gives the most health for the money" in summary or "no design beats" in summary
    assert "GBP 20,000/QALY" in summary and "GBP 30,000/QALY" in summary, (
        "the summary says how sure at both NICE thresholds")
    for band in ("&lt; 7.5%", "7.5-8.5%", "&gt;= 8.5%", "Digital literacy"):
        assert band in text, f"subgroup {band} missing"
    version = f"peersupport {metadata.version('peersupport')}"
    for words in ("gamma(mean 45, sd 9)", "SHA-256", "derive_seed", version):
        assert words in text, f"{words!r} missing from the assumptions or provenance"
    for design in tiny_result.comparison.designs:
        assert design.sha256 in text, f"scenario hash of {design.name} missing"


def test_every_table_is_exported(report: Path, tiny_result: CompareResult) -> None:  # noqa: F811
    data = report.with_name("report_data")
    for name, frame in tiny_result.tables().items():
        csv = pd.read_csv(data / f"{name}.csv")
        parquet = pd.read_parquet(data / f"{name}.parquet")
        assert len(csv) == len(parquet) == len(frame), name
        assert list(parquet.columns) == list(frame.columns), name
    assert (data / "provenance.json").is_file() and (data / "summary.md").is_file()
    # the numbers shown are the numbers exported: the headline ICER appears in both
    icer = pd.read_csv(data / "incremental_analysis.csv")
    shown = report.read_text()
    for verdict in icer["verdict_vs_comparator"]:
        assert verdict.replace("/", "/") in shown, verdict


@pytest.mark.browser
def test_report_renders_in_chromium(report: Path, tiny_result: CompareResult) -> None:  # noqa: F811
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium "
                    "(apt-get install chromium; .ci/run does it)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright (python) is not installed")
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: problems.append(f"request: {r.url}")
                    if not r.url.startswith(("file:", "data:", "about:")) else None)
            page.goto(report.resolve().as_uri(), wait_until="load")
            summary = page.locator("#summary")
            assert summary.is_visible() and "health for the money" in summary.inner_text() \
                or "no design beats" in summary.inner_text()
            assert page.locator("#summary .card").count() == 5, "five key-figure cards"
            rows = page.locator("#side-by-side-table tbody tr")
            assert rows.count() >= 10, f"side-by-side table has {rows.count()} rows"
            assert page.locator("#side-by-side-table thead th").count() == 1 + 4, "4 designs"
            assert page.locator("#incremental-table tbody tr").count() == 4
            figures = page.locator("figure.fig svg")
            tornados = len(tiny_result.decision.metamodel)
            assert figures.count() == len(FIGURES) + tornados, f"{figures.count()} figures drawn"
            for fig_id in FIGURES:
                box = page.locator(f"#{fig_id} svg").bounding_box()
                assert box and box["width"] > 300 and box["height"] > 150, (fig_id, box)
                texts = page.locator(f"#{fig_id} svg text").count()
                assert texts > 5, f"{fig_id} has axis labels ({texts} text elements)"
            page.screenshot(path=str(ARTIFACTS / "compare_report_top.png"))
            page.screenshot(path=str(ARTIFACTS / "compare_report_full.png"), full_page=True)
            page.locator("#uncertainty").screenshot(
                path=str(ARTIFACTS / "compare_report_uncertainty.png"))
            page.set_viewport_size({"width": 900, "height": 900})  # a planner's laptop window
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 900, f"the page scrolls sideways at 900 px ({width} px wide)"
            page.screenshot(path=str(ARTIFACTS / "compare_report_900px.png"))
            page.emulate_media(media="print")
            assert not page.locator("nav.toc").is_visible(), "no link bar on paper"
            assert page.locator("#glossary").is_visible()
        finally:
            browser.close()
    assert not problems, problems


def test_report_shows_lifetime_first_with_persistence_words(report: Path) -> None:
    text = report.read_text()
    lifetime = text[text.index('<section id="lifetime"'):text.index('<section id="incremental"')]
    for words in ("fades linearly over", "no programme effect carries beyond",
                  "trial-participation drift", "2012 GBP", "Monte Carlo error",
                  'id="lifetime-table"', 'id="fig-cuminc"'):
        assert words in lifetime, f"{words!r} missing from the lifetime section"
    assert text.index('id="incremental-table"') < text.index('id="side-by-side-table"')
    assert 'id="incremental-programme-table"' in text, "within-programme ICERs still shown"


def test_decision_section_in_the_report(report: Path, tiny_result: CompareResult) -> None:  # noqa: F811
    """The PSA's decision analysis (tornado, thresholds, EVPPI) is a section of the report."""
    assert tiny_result.decision is not None, "the tiny comparison has PSA parameters"
    text = report.read_text()
    assert 'id="decision"' in text and 'href="#decision"' in text, "section and its link"
    assert text.index('id="uncertainty"') < text.index('id="decision"') < text.index(
        'id="subgroups"'), "after the uncertainty section"
    assert "Tornado:" in text


def test_user_subgroup_cut_offs_reach_the_report(tmp_path: Path) -> None:
    from sim.analyses.compare import analyse, load_comparison, run_comparison
    from sim.engine.options import RunOptions

    from .test_compare import TINY, write_compare

    text = TINY.replace("  population.size: 200\n",
                        "  population.size: 200\n  run.subgroups.hba1c: [9]\n")
    text = text.replace("replications: 6", "replications: 2").replace("horizon_days: 60",
                                                                      "horizon_days: 14")
    comparison = load_comparison(write_compare(tmp_path, text))
    runs = run_comparison(comparison, tmp_path / "runs", RunOptions(executor="serial"))
    result = analyse(tmp_path / "runs", comparison, command="pytest", report=runs)
    bands = dict(zip(result.subgroups["subgroup"], result.subgroups["band"], strict=True))
    assert bands["hba1c_lt9"] == "< 9%" and bands["hba1c_ge9"] == ">= 9%"
    assert "hba1c_ge8.5" not in bands and "literacy_low" in bands
    page = write_report(result, tmp_path / "report.html")["report"].read_text()
    assert "&lt; 9%" in page and "&gt;= 9%" in page and "&gt;= 8.5%" not in page
