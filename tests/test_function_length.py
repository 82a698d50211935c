"""Functions in the analysis and report layers stay short (issue 15: about 60 code lines).

A code line is a line of the function that is not blank, not a comment and not its
docstring. Longer functions fail unless listed in ALLOWED with the reason.
"""

from __future__ import annotations

import ast

from .conftest import ROOT

LAYERS = ("sim/analyses", "sim/report")
MAX_CODE_LINES = 60

ALLOWED: dict[str, str] = {}
"""``"path:function"`` -> why it may be longer (none at present)."""


def code_lines(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of ``node`` that are code: not blank, not a comment, not the docstring."""
    docstring: set[int] = set()
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
            and isinstance(first.value.value, str):
        docstring = set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return sum(1 for number in range(node.lineno, (node.end_lineno or node.lineno) + 1)
               if number not in docstring
               and lines[number - 1].strip() and not lines[number - 1].strip().startswith("#"))


def long_functions() -> dict[str, int]:
    """``"path:function"`` -> code lines, for every function over the limit."""
    found = {}
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            text = path.read_text()
            lines = text.splitlines()
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    n = code_lines(lines, node)
                    if n > MAX_CODE_LINES:
                        found[f"{path.relative_to(ROOT)}:{node.name}"] = n
    return found


def test_counter_counts_code_only() -> None:
    text = 'def f():\n    """Doc\n    string."""\n\n    # a comment\n    x = 1\n    return x\n'
    node = ast.parse(text).body[0]
    assert isinstance(node, ast.FunctionDef)
    assert code_lines(text.splitlines(), node) == 3  # def, x = 1, return


def test_no_function_over_the_limit_without_a_reason() -> None:
    over = {k: n for k, n in long_functions().items() if k not in ALLOWED}
    assert not over, f"functions over {MAX_CODE_LINES} code lines (split them): {over}"
    stale = set(ALLOWED) - set(long_functions())
    assert not stale, f"ALLOWED lists functions that are short now: {stale}"
