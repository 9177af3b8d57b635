"""Header values built from user text, encoded so that any name survives HTTP's latin-1 headers."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 !#$&+.^_`|~()\[\]{},;=@-]")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """``attachment; filename="<ascii fallback>"; filename*=UTF-8''<percent-encoded>`` (RFC 6266/5987).

    Every browser since 2012 uses ``filename*``; the plain ``filename`` is an ASCII approximation for
    older clients. Control characters, quotes and path separators never reach either."""
    name = "".join(c for c in filename if unicodedata.category(c)[0] != "C")
    name = name.replace("/", "_").replace("\\", "_").strip() or "download"
    stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    ascii_stem, ascii_ext = (_ascii(part) for part in (stem, ext))
    ascii_name = (ascii_stem.strip("._ ") or "download") + (dot + ascii_ext if ascii_ext else "")
    value = f'{disposition}; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _UNSAFE_ASCII.sub("_", text)


def safe_request_id(value: str | bytes | None) -> str | None:
    """The caller's X-Request-ID if it is a plain token we can echo and log; otherwise None."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value if value and _REQUEST_ID.match(value) else None
