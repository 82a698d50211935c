"""An Excel workbook of tables (one sheet each), for readers who work in spreadsheets."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

SHEET_NAME_MAX = 31
"""Excel's limit on sheet-name length."""


def write_workbook(tables: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Write every table as a sheet of an ``.xlsx`` workbook (openpyxl).

    Sheet names are the table names cut to Excel's 31 characters (kept unique); cells
    holding lists or dicts are written as JSON text.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in tables.items():
            sheet = name[:SHEET_NAME_MAX]
            k = 2
            while sheet in used:
                suffix = f"_{k}"
                sheet, k = name[:SHEET_NAME_MAX - len(suffix)] + suffix, k + 1
            used.add(sheet)
            frame = frame.copy()
            for col in frame.columns:
                if frame[col].dtype == object:
                    frame[col] = frame[col].map(
                        lambda v: json.dumps(v, default=str) if isinstance(v, dict | list)
                        else v)
            frame.to_excel(writer, sheet_name=sheet, index=False)
    return path
