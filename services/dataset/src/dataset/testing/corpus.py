"""Generated uploads: ordinary photos-like images and CSVs, and the hostile corpus built from them.

Images are random low-frequency patterns, so no two are near-duplicates by perceptual hash.
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable

import numpy as np
from PIL import Image

Entries = Iterable[tuple[str, bytes]]


def photo(seed: int, *, size: tuple[int, int] = (64, 48)) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    noise = rng.integers(-12, 13, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def class_entries(classes: dict[str, int], *, top: str = "", seed: int = 0) -> list[tuple[str, bytes]]:
    """``classes`` maps a class name to how many distinct JPEGs it gets."""
    entries = []
    for c, (name, count) in enumerate(classes.items()):
        for i in range(count):
            entries.append((f"{top}{name}/{i:04d}.jpg", encode(photo(seed + c * 10_000 + i))))
    return entries


def build_zip(entries: Entries, *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries:
            if name.endswith("/"):
                archive.writestr(zipfile.ZipInfo(name), b"")
            else:
                archive.writestr(name, data)
    return buffer.getvalue()


def image_zip(classes: dict[str, int] | None = None, *, top: str = "", extra: Entries = ()) -> bytes:
    return build_zip([*class_entries(classes or {"cats": 12, "dogs": 12}, top=top), *extra])


def symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in class_entries({"cats": 12, "dogs": 12}):
            archive.writestr(name, data)
        link = zipfile.ZipInfo("cats/link.jpg")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "../../../etc/passwd")
    return buffer.getvalue()


def _stream_entry(archive: zipfile.ZipFile, name: str, chunks: Callable[[], Iterable[bytes]]) -> None:
    with archive.open(name, "w", force_zip64=True) as out:
        for chunk in chunks():
            out.write(chunk)


def ratio_bomb_zip(*, decompressed_mib: int = 200) -> bytes:
    """One entry of zeros that deflates about 1000:1, beside ordinary classes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in class_entries({"cats": 12, "dogs": 12}):
            archive.writestr(name, data)
        _stream_entry(archive, "cats/huge.bmp", lambda: (bytes(1 << 20) for _ in range(decompressed_mib)))
    return buffer.getvalue()


def size_bomb_zip(*, entries: int, entry_bytes: int) -> bytes:
    """Many entries of incompressible bytes: no single one is suspicious, together they are too large."""
    rng = np.random.default_rng(7)
    files = [
        (f"cats/{i:03d}.jpg", rng.integers(0, 256, entry_bytes, dtype=np.uint8).tobytes())
        for i in range(entries)
    ]
    return build_zip([*class_entries({"dogs": 12}), *files], compression=zipfile.ZIP_STORED)


def many_entries_zip(count: int = 100_000) -> bytes:
    return build_zip(((f"cats/{i}.jpg", b"") for i in range(count)), compression=zipfile.ZIP_STORED)


def _central_records(data: bytes) -> list[int]:
    """Offsets of the central-directory records."""
    eocd = data.rfind(b"PK\x05\x06")
    count, _size, start = struct.unpack_from("<HLL", data, eocd + 10)
    offsets, at = [], start
    for _ in range(count):
        offsets.append(at)
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
        at += 46 + name_len + extra_len + comment_len
    return offsets


def overlapping_zip() -> bytes:
    """The last entry's directory record points at the first entry's bytes (as overlap bombs do)."""
    data = bytearray(image_zip())
    records = _central_records(bytes(data))
    first_offset = struct.unpack_from("<L", data, records[0] + 42)[0]
    struct.pack_into("<L", data, records[-1] + 42, first_offset)
    # The names must agree with the local header zipfile will read, or it refuses before we look.
    first_name_len = struct.unpack_from("<H", data, records[0] + 28)[0]
    last_name_len = struct.unpack_from("<H", data, records[-1] + 28)[0]
    assert first_name_len == last_name_len
    data[records[-1] + 46 : records[-1] + 46 + last_name_len] = data[
        records[0] + 46 : records[0] + 46 + first_name_len
    ]
    return bytes(data)


def encrypted_flag_zip() -> bytes:
    """One entry marked encrypted (general purpose flag bit 0) in both headers."""
    data = bytearray(image_zip({"cats": 13, "dogs": 12}))
    record = _central_records(bytes(data))[0]
    local = struct.unpack_from("<L", data, record + 42)[0]
    for at in (record + 8, local + 6):
        struct.pack_into("<H", data, at, struct.unpack_from("<H", data, at)[0] | 0x1)
    return bytes(data)


def pixel_bomb_png(*, side: int = 30_000) -> bytes:
    """A valid 1-bit greyscale PNG of side x side pixels: a few hundred KB that would decode to ~1 GB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = bytes(1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def truncated(data: bytes, *, keep: float = 0.6) -> bytes:
    return data[: int(len(data) * keep)]


def windows_executable() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(range(256)) * 8


# Text ------------------------------------------------------------------------------------------------

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike oscar papa".split()


def sentence(seed: int, *, words: int = 8) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(WORDS[int(i)] for i in rng.integers(0, len(WORDS), words)) + f" {seed}"


def text_rows(classes: dict[str, int], *, seed: int = 0) -> list[tuple[str, str]]:
    """(text, label) rows, every text distinct."""
    rows = []
    for c, (label, count) in enumerate(classes.items()):
        rows.extend((sentence(seed + c * 10_000 + i), label) for i in range(count))
    return rows


def csv_text(
    rows: list[tuple[str, str]], *, delimiter: str = ",", header: tuple[str, str] = ("text", "label")
) -> str:
    def quote(value: str) -> str:
        if any(ch in value for ch in (delimiter, '"', "\n", "\r")):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [delimiter.join(header)] + [f"{quote(t)}{delimiter}{quote(label)}" for t, label in rows]
    return "\r\n".join(lines) + "\r\n"
