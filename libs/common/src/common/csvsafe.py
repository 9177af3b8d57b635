"""Cells a spreadsheet would execute. A CSV cell that starts with '=', '+', '-' or '@' (or a tab or
carriage return, which some spreadsheets skip before looking) is read as a formula when the file is
opened in Excel, LibreOffice or Google Sheets: "CSV injection" (OWASP)."""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(cell: str) -> bool:
    return cell.startswith(FORMULA_PREFIXES)


def neutralize(cell: str) -> str:
    """The cell as text a spreadsheet shows and never runs: prefixed with an apostrophe, which
    spreadsheets treat as "this is text" (OWASP's recommendation)."""
    return "'" + cell if is_formula_like(cell) else cell
