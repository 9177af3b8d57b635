"""Ids and names as every service validates them at its edge: one shape each, one encoder.

An id or name that passes these shapes is safe in a path segment, a log line and a store key; it is
still percent-encoded (``path_segment``) wherever it is put into another service's URL.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from pydantic import StringConstraints

ID_MAX_LENGTH = 64
ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{ID_MAX_LENGTH - 1}}}$"
ID_RULE = f"an id is 1 to {ID_MAX_LENGTH} letters, digits, '-' or '_', starting with a letter or digit"

FILE_NAME_MAX_LENGTH = 128
FILE_NAME_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{FILE_NAME_MAX_LENGTH - 1}}}$"
FILE_NAME_RULE = (
    f"a file name is 1 to {FILE_NAME_MAX_LENGTH} letters, digits, '.', '-' or '_', "
    "starting with a letter or digit"
)

# What a person reads instead of the regular expression when a value does not match.
PATTERN_RULES = {ID_PATTERN: ID_RULE, FILE_NAME_PATTERN: FILE_NAME_RULE}

ResourceId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
"""Any resource id (data set, run, model, token). Use it for path, query and body fields alike."""

FileName = Annotated[str, StringConstraints(pattern=FILE_NAME_PATTERN)]
"""A name inside a resource (a run's artifact)."""


def path_segment(value: str) -> str:
    """``value`` percent-encoded as one URL path segment: '/', '?', '#', '%' and '..' cannot escape it."""
    encoded = quote(value, safe="")
    # '.' and '..' are path navigation even when every character is safe.
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded
