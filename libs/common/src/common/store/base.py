from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO, Protocol, runtime_checkable

_KEY = re.compile(r"^[A-Za-z0-9._=-]+(/[A-Za-z0-9._=-]+)*$")


class ObjectNotFound(KeyError):
    """The key names no object."""


def validate_key(key: str) -> str:
    """Refuse keys that could escape a prefix: empty parts, '..', absolute paths, odd characters."""
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"invalid object key: {key!r}")
    return key


@runtime_checkable
class ObjectStore(Protocol):
    """Blocking interface: call it from worker threads (``asyncio.to_thread``) inside services."""

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def put_file(self, key: str, path: str, content_type: str = "application/octet-stream") -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def get_file(self, key: str, path: str) -> None:
        """Download the object to a local path."""

    def open_stream(self, key: str) -> BinaryIO:
        """A readable file-like object; the caller closes it."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix`` (a plain string prefix), in lexical order."""

    def delete(self, key: str) -> None:
        """Remove one object; a missing key is not an error."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix``; returns how many were removed."""

    def ping(self) -> None:
        """Raise if the backend is unreachable."""
