"""Query parameters every list endpoint bounds the same way."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

# Deeper pages than this are refused: nobody pages a million rows by offset, and an unbounded
# integer overflows the database's 64-bit parameter.
MAX_OFFSET = 1_000_000

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"rows to skip, at most {MAX_OFFSET}")]


def page_limit(maximum: int):
    """The ``limit`` query parameter of a list endpoint: ``limit: page_limit(100) = 20``."""
    return Annotated[int, Query(ge=1, le=maximum, description=f"rows per page, 1 to {maximum}")]
