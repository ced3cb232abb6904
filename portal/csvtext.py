"""CSV text for spreadsheets: one line at a time, cells that would start a formula made
inert (CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable


def safe_cell(value) -> str:
    """Spreadsheet formula injection: a cell that starts like a formula gets a leading '."""
    text = "" if value is None else str(value)
    if text and text[0] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def csv_line(values: Iterable) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([safe_cell(v) for v in values])
    return out.getvalue()
