"""Cells for files people open in spreadsheet programs (CSV and tab-separated text), made safe from formulas.

A spreadsheet runs a cell that starts with = + - @ (and, in some programs, one that starts with a tab or a
carriage return) as a formula, so a site name such as `=HYPERLINK(...)` sent by a device or typed in the console
could act in the office that opens the report. Following the OWASP guidance on CSV injection, such a text cell is
prefixed with a single quote, which the spreadsheet shows as text. Numbers stay numbers.

(defusedcsv does the same for = + - @ | % but not for tab or carriage return, so the rule is written here, once.)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from numbers import Number

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """value unchanged if it is a number (not a bool) or None; else its text, with a leading ' if it would start
    a formula."""
    if value is None or (isinstance(value, Number) and not isinstance(value, bool)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(rows: Iterable[Iterable[object]], bom: bool = True) -> str:
    """rows as CSV text (CRLF line ends, UTF-8 byte-order mark so spreadsheets read Vietnamese), every cell safe."""
    out = io.StringIO()
    if bom:
        out.write("\ufeff")
    csv.writer(out, lineterminator="\r\n").writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue()
