"""Validation and calibration reports: the shared template, failures highlighted, safe text."""

from __future__ import annotations

from pathlib import Path

from sim.cli import main as cli

from .test_calibration import STUDY, calibration_text
from .test_validation import TINY, write

HOSTILE_TITLE = "title: <script>alert(1)</script> $\\foo$ ![x](/etc/passwd)"


def test_validate_report_highlights_failures_in_the_shared_look(tmp_path: Path) -> None:
    text = (TINY.replace("published: -0.5", "published: 5.5")
            .replace("[-5.0, 0.0]", "[5.0, 6.0]")
            .replace("title: DSMES vs usual care, small", HOSTILE_TITLE))
    study = write(tmp_path, text)
    report = tmp_path / "v.html"
    code = cli.main(["validate", str(study), "--executor", "serial", "--no-progress",
                     "--replications", "2", "--report", str(report)])
    assert code == 1, "a failing outcome fails the command"
    page = report.read_text()
    assert 'class="top"' in page and "--accent" in page, "the shared template and stylesheet"
    assert '<tr class="fail">' in page and '<span class="badge fail">FAIL</span>' in page
    assert "0 of 1 outcomes pass" in page
    assert "<script" not in page and "&lt;script&gt;" in page, "the title is text"
    assert 'src="/etc' not in page and page.count("<img") == 1, "only the study's figure"


def test_calibrate_writes_fit_report_through_the_template(tmp_path: Path, capsys) -> None:
    (tmp_path / "study.yaml").write_text(STUDY)
    path = tmp_path / "calib.yaml"
    path.write_text(calibration_text("fit_report_check", {"control change": 0.1,
                                                          "DSMES change": -0.3}, trials=2))
    assert cli.main(["calibrate", str(path), "--out", str(tmp_path / "out"),
                     "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "# Fit report: fit_report_check" in out and "## Targets vs fitted" in out
    assert "## Identifiability" in out and "| clinical.lifestyle_effect_pct |" in out
    written = {Path(p).name for p in err.split("wrote ")[-1].strip().split(", ")}
    assert written == {"best.yaml", "fit_report.md", "fit_report.html", "trials.csv",
                       "near_best.csv"}
    near = (tmp_path / "out" / "near_best.csv").read_text().splitlines()
    assert near[0].startswith("trial,objective,") and len(near) >= 2, "header and the best"
    html = next(Path(p) for p in err.split("wrote ")[-1].strip().split(", ")
                if p.endswith(".html")).read_text()
    assert 'class="top"' in html and 'id="optimisation"' in html
    assert html.count("data:image/png;base64,") == 2, "study figure and history"
    assert "<table>" in html and "Targets vs fitted" in html, "the fit tables as HTML"
