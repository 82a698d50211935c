"""Every `Author Year` citation in the code and the docs is in docs/references.md."""

from __future__ import annotations

import re

from .conftest import ROOT

CITATION = re.compile(
    r"\b((?:van |de |ter )?[A-Z][A-Za-z'-]+(?: et al\.| (?:&|and) (?:van |de )?[A-Z][A-Za-z'-]+)?)"
    r",? \(?((?:19|20)\d{2})\b(?![;:]?\d)")
"""``Qi 2015``, ``Cochran & Conn 2008``, ``Grimm et al. 2006``, ``Centola (2010)``; not the
year of a journal reference (``Science 2010;329``)."""


def citations(text: str) -> set[str]:
    """The `Author Year` keys cited in ``text``."""
    return {f"{name} {year}" for name, year in CITATION.findall(text)}


def test_citation_pattern():
    text = ("(Qi 2015; Cochran & Conn 2008), Grimm et al. 2006, Centola (2010); "
            "Centola D. Science 2010;329:1194-7")
    assert citations(text) == {"Qi 2015", "Cochran & Conn 2008", "Grimm et al. 2006",
                               "Centola 2010"}


def test_every_citation_in_code_and_docs_is_in_the_bibliography():
    bibliography = (ROOT / "docs" / "references.md").read_text()
    missing = {}
    for folder, patterns in (("sim", ("*.py",)), ("docs", ("*.md",))):
        for pattern in patterns:
            for path in sorted((ROOT / folder).rglob(pattern)):
                if path.name == "references.md":
                    continue
                for key in citations(path.read_text()):
                    if key not in bibliography:
                        missing.setdefault(key, path.relative_to(ROOT).as_posix())
    assert not missing, f"cited but not in docs/references.md: {missing}"
