"""Docs generated from code stay in sync with it."""

from __future__ import annotations

from sim.report.params_table import parameter_table

from .conftest import ROOT


def test_parameter_table_in_model_doc_is_current():
    text = (ROOT / "docs" / "model.md").read_text()
    stale = "docs/model.md is stale: run python -m sim.report.params_table"
    assert parameter_table() in text, stale


def test_every_parameter_has_unit_and_source():
    for line in parameter_table().splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[2] and cells[4], f"parameter without unit or source: {cells[0]}"
