"""Read an uploaded zip without trusting it.

Nothing is ever extracted to a path: entries are read into memory with a bounded read that counts the
bytes actually decompressed, so lying headers cannot get past the caps. Before ``zipfile`` parses the
central directory we check its declared entry count and size, so a zip with millions of entries costs
nothing. Overlapping entries (the trick behind non-recursive zip bombs) are found by reading every local
header and comparing byte ranges.
"""

from __future__ import annotations

import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dataset.validation.limits import ValidationLimits
from dataset.validation.report import Code, refuse

_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CHUNK = 1 << 20
# A legitimate central-directory record is 46 bytes plus a name of a few dozen characters.
_CENTRAL_BYTES_PER_ENTRY = 512

JUNK_NAMES = {"thumbs.db", "desktop.ini", "ehthumbs.db"}
ARCHIVE_SUFFIXES = (
    ".zip",
    ".tar",
    ".gz",
    ".tgz",
    ".bz2",
    ".xz",
    ".7z",
    ".rar",
    ".zst",
    ".jar",
    ".lz",
    ".lzma",
)


@dataclass(frozen=True)
class ZipMember:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.info.filename


@dataclass
class ArchiveListing:
    files: list[ZipMember] = field(default_factory=list)
    directories: list[tuple[str, ...]] = field(default_factory=list)
    junk: list[str] = field(default_factory=list)


@dataclass
class ReadBudget:
    """Decompressed bytes read so far across the whole archive."""

    limits: ValidationLimits
    total: int = 0


def _declared_directory(f: BinaryIO, size: int) -> tuple[int, int]:
    """(entry count, central directory bytes) from the end-of-central-directory record."""
    tail_len = min(size, _EOCD.size + 65535)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        raise refuse(
            Code.not_a_zip, "The file is not a zip archive. Upload a .zip with one folder per class."
        )
    _sig, _disk, _cd_disk, _n_disk, entries, cd_size, _cd_offset, _comment = _EOCD.unpack_from(tail, at)
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
        locator_at = at - _ZIP64_LOCATOR.size
        if locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
            _sig, _disk, zip64_offset, _disks = _ZIP64_LOCATOR.unpack_from(tail, locator_at)
            f.seek(zip64_offset)
            record = f.read(_ZIP64_EOCD.size)
            if len(record) == _ZIP64_EOCD.size and record[:4] == b"PK\x06\x06":
                fields = _ZIP64_EOCD.unpack(record)
                entries, cd_size = fields[7], fields[8]
    return entries, cd_size


def open_archive(path: Path, *, limits: ValidationLimits) -> zipfile.ZipFile:
    size = path.stat().st_size
    with open(path, "rb") as f:
        entries, cd_size = _declared_directory(f, size)
    if entries == 0:
        raise refuse(
            Code.empty_archive, "The zip archive is empty. Put one folder per class with images inside."
        )
    if entries > limits.zip_max_entries or cd_size > limits.zip_max_entries * _CENTRAL_BYTES_PER_ENTRY:
        raise refuse(
            Code.zip_too_many_entries,
            f"The zip declares {entries} entries ({cd_size} bytes of directory); the limit is "
            f"{limits.zip_max_entries} entries.",
        )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, struct.error) as e:
        raise refuse(
            Code.zip_corrupt, f"The zip archive cannot be read ({e}). Re-create it and upload again."
        ) from e
    if len(archive.infolist()) > limits.zip_max_entries:
        count = len(archive.infolist())
        archive.close()
        raise refuse(
            Code.zip_too_many_entries, f"The zip has {count} entries; the limit is {limits.zip_max_entries}."
        )
    return archive


def _split_name(name: str) -> list[str]:
    # Backslashes are separators for the purpose of this check: Windows tools would treat them so.
    return name.replace("\\", "/").split("/")


def _check_entry_is_safe(info: zipfile.ZipInfo) -> None:
    name = info.filename
    if name.startswith(("/", "\\")) or (len(name) >= 2 and name[1] == ":" and name[0].isalpha()):
        raise refuse(
            Code.zip_absolute_path,
            f"Entry {name!r} has an absolute path; the upload is refused. "
            "Zip the folder with relative paths.",
            name,
        )
    if ".." in _split_name(name):
        raise refuse(
            Code.zip_path_traversal,
            f"Entry {name!r} points outside the archive ('..'); the upload is refused.",
            name,
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise refuse(
            Code.zip_symlink,
            f"Entry {name!r} is a symbolic link; the upload is refused. Zip real files, not links.",
            name,
        )


def _check_no_overlap(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Every entry's local header and data must occupy its own byte range, before the central directory."""
    fp = archive.fp
    assert fp is not None
    ranges: list[tuple[int, int, str]] = []
    for info in infos:
        fp.seek(info.header_offset)
        header = fp.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise refuse(
                Code.zip_corrupt,
                f"Entry {info.filename!r} has no valid local header; the zip is damaged.",
                info.filename,
            )
        fields = _LOCAL_HEADER.unpack(header)
        name_len, extra_len = fields[9], fields[10]
        end = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len + info.compress_size
        ranges.append((info.header_offset, end, info.filename))
    ranges.sort()
    previous_end, previous_name = 0, ""
    for start, end, name in ranges:
        if start < previous_end:
            raise refuse(
                Code.zip_overlapping_entries,
                f"Entries {previous_name!r} and {name!r} share bytes (overlapping entries, a zip-bomb "
                "technique); the upload is refused.",
                name,
            )
        previous_end, previous_name = end, name
    if previous_end > archive.start_dir:
        raise refuse(
            Code.zip_overlapping_entries,
            f"Entry {previous_name!r} overlaps the zip's central directory; the upload is refused.",
            previous_name,
        )


def _is_junk(parts: list[str]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or parts[-1].lower() in JUNK_NAMES


def list_members(archive: zipfile.ZipFile, *, limits: ValidationLimits) -> ArchiveListing:
    """Check every entry, then sort them into files, directories and junk (OS metadata)."""
    infos = archive.infolist()
    declared_total = 0
    for info in infos:
        _check_entry_is_safe(info)
        # Early refusals from what the headers declare; read_member checks the bytes actually produced.
        declared_total += info.file_size
        if _ratio_exceeded(info.file_size, info.compress_size, limits):
            raise _ratio_bomb(info.filename, info.compress_size, info.file_size, limits, declared=True)
        if info.file_size > limits.zip_max_entry_bytes:
            raise _entry_too_large(info.filename, info.file_size, limits)
    if declared_total > limits.zip_max_total_bytes:
        raise _total_too_large(declared_total, limits)
    _check_no_overlap(archive, infos)

    listing = ArchiveListing()
    for info in infos:
        parts = [p for p in _split_name(info.filename) if p not in ("", ".")]
        if not parts:
            continue
        if _is_junk(parts):
            listing.junk.append(info.filename)
        elif info.is_dir():
            listing.directories.append(tuple(parts))
        else:
            listing.files.append(ZipMember(info=info, parts=tuple(parts)))
    return listing


def _entry_too_large(name: str, size: int, limits: ValidationLimits):
    return refuse(
        Code.zip_entry_too_large,
        f"Entry {name!r} decompresses to more than {limits.zip_max_entry_bytes} bytes (at least {size}); "
        "the upload is refused.",
        name,
    )


def _total_too_large(size: int, limits: ValidationLimits):
    return refuse(
        Code.zip_total_too_large,
        f"The archive decompresses to more than {limits.zip_max_total_bytes} bytes (at least {size}); "
        "the upload is refused. Upload fewer or smaller images.",
    )


def _ratio_exceeded(decompressed: int, compressed: int, limits: ValidationLimits) -> bool:
    ratio = decompressed / max(compressed, 1)
    return decompressed > limits.zip_ratio_floor_bytes and ratio > limits.zip_max_ratio


def _ratio_bomb(name: str, compressed: int, decompressed: int, limits: ValidationLimits, *, declared: bool):
    how = "declares" if declared else "gave"
    return refuse(
        Code.zip_ratio_exceeded,
        f"Entry {name!r} expands more than {limits.zip_max_ratio:g} times ({compressed} compressed bytes "
        f"{how} {decompressed}): a zip bomb; the upload is refused.",
        name,
    )


class EntryUnreadable(Exception):
    """One entry cannot be read (damaged data, unsupported compression); the others may be fine."""


def read_member(archive: zipfile.ZipFile, member: ZipMember, *, budget: ReadBudget) -> bytes:
    """The entry's bytes, read in chunks and counted; refuses the upload as soon as a cap is passed."""
    limits = budget.limits
    info = member.info
    if info.flag_bits & 0x1:
        raise EntryUnreadable("it is encrypted")
    compressed = max(info.compress_size, 1)
    out = bytearray()
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                out += chunk
                budget.total += len(chunk)
                if len(out) > limits.zip_max_entry_bytes:
                    raise _entry_too_large(info.filename, len(out), limits)
                if budget.total > limits.zip_max_total_bytes:
                    raise _total_too_large(budget.total, limits)
                if _ratio_exceeded(len(out), compressed, limits):
                    raise _ratio_bomb(info.filename, compressed, len(out), limits, declared=False)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as e:
        raise EntryUnreadable(str(e) or type(e).__name__) from e
    return bytes(out)


def looks_like_archive(name: str, head: bytes) -> bool:
    if name.lower().endswith(ARCHIVE_SUFFIXES):
        return True
    magics = (
        b"PK\x03\x04",
        b"PK\x05\x06",
        b"\x1f\x8b",
        b"BZh",
        b"\xfd7zXZ\x00",
        b"7z\xbc\xaf\x27\x1c",
        b"Rar!",
    )
    return head.startswith(magics) or head[257:262] == b"ustar"
