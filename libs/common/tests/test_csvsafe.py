"""Spreadsheet formula cells are recognised and neutralized (OWASP CSV injection)."""

from __future__ import annotations

import pytest
from common.csvsafe import is_formula_like, neutralize


@pytest.mark.parametrize("cell", ["=1+2", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("x")'])
def test_formula_cells_are_prefixed_so_they_stay_text(cell):
    assert is_formula_like(cell)
    assert neutralize(cell) == "'" + cell
    assert not is_formula_like(neutralize(cell))


@pytest.mark.parametrize("cell", ["hello", "", "1+1", " =1", "'=1", "a-b"])
def test_other_cells_are_unchanged(cell):
    assert not is_formula_like(cell)
    assert neutralize(cell) == cell
