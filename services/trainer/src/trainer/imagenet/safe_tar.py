"""Read the members of a tar stream without ever building a path from an entry name that was not checked.

``tarfile.extractall`` trusts entry names and links; here every regular member's name must be one plain
file name matching the expected pattern (an optional leading ``./`` aside), links and device entries are
refused, and the caller decides where the bytes go. Works on non-seekable streams (``mode="r|*"``), so a
140 GB train tar can be read straight from the object store.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO


class UnsafeArchive(ValueError):
    """An archive entry that must not be extracted: a link, a device, a path, or an unexpected name."""


@dataclass(frozen=True)
class Member:
    name: str  # a validated plain file name
    size: int
    stream: IO[bytes]  # readable until the next member is requested


def plain_name(raw: str, pattern: re.Pattern[str]) -> str:
    """``raw`` as a single path component matching ``pattern``; raises ``UnsafeArchive`` otherwise."""
    name = raw[2:] if raw.startswith("./") else raw
    if "/" in name or "\\" in name or "\x00" in name or name in ("", ".", ".."):
        raise UnsafeArchive(f"entry {raw!r} is a path, not a plain file name")
    if not pattern.fullmatch(name):
        raise UnsafeArchive(f"entry {raw!r} does not look like {pattern.pattern}")
    return name


def iter_members(
    fileobj: IO[bytes], pattern: re.Pattern[str], *, skip: Iterator[str] | set[str] = frozenset()
) -> Iterator[Member]:
    """Regular files of the tar read from ``fileobj``, names validated; only a root ``./`` entry may be a
    directory.

    A member whose name is in ``skip`` is passed over without reading its data (a restart skips what
    is already done)."""
    with tarfile.open(fileobj=fileobj, mode="r|*") as archive:
        for info in archive:
            if info.isdir() and info.name in (".", "./"):
                continue  # the archive's own root entry
            if not info.isfile():
                kind = "link" if info.issym() or info.islnk() else "special file or directory"
                raise UnsafeArchive(f"entry {info.name!r} is a {kind}; only regular files are accepted")
            name = plain_name(info.name, pattern)
            if name in skip:
                continue
            stream = archive.extractfile(info)
            assert stream is not None  # a regular file always has data
            yield Member(name=name, size=info.size, stream=stream)
