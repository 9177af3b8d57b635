"""Receive a multipart upload as a stream, with a hard byte cap counted while reading.

Starlette's form parser spools file parts without a size limit, so we run python-multipart's
streaming parser over ``request.stream()`` ourselves: the file part goes to a temporary file (hashed on
the way), the small text fields stay in memory, and the first byte past a cap ends the request with 413.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from common.bodies import TooLarge, capped_stream, refuse_declared_length
from common.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

FILE_FIELD = "file"
MAX_FIELDS_BYTES = 64 * 1024  # every text field together
_MULTIPART_SLACK = 16 * 1024  # boundaries and part headers


@dataclass
class ReceivedUpload:
    path: Path
    filename: str
    size: int
    sha256: str
    fields: dict[str, str] = field(default_factory=dict)


def safe_filename(raw: str) -> str:
    """The last path component, printable, at most 200 characters: it is only ever shown, never a path."""
    name = PurePosixPath(raw.replace("\\", "/")).name
    name = re.sub(r"[^\w.\- ()+]", "_", name).strip(" .")
    return name[:200] or "upload"


class _FileSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.file.write(chunk)
            self.hash.update(chunk)

    def close(self) -> None:
        self.file.close()


class _FormState:
    """What the parser callbacks have seen so far."""

    def __init__(self, *, max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[str, bytes] = {}
        self.part_name: str | None = None
        self.part_is_file = False
        self.filename: str | None = None
        self.file_parts = 0
        self.file_bytes = 0
        self.pending: list[bytes] = []
        self.field_value = bytearray()
        self.fields: dict[str, str] = {}
        self.field_bytes = 0
        self.error: Exception | None = None

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": lambda data, start, end: self.header_field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self.header_value.extend(data[start:end]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.headers = {}
        self.part_name, self.part_is_file = None, False
        self.field_value = bytearray()

    def on_header_end(self) -> None:
        self.headers[self.header_field.decode("latin-1").lower()] = bytes(self.header_value)
        self.header_field, self.header_value = bytearray(), bytearray()

    def on_headers_finished(self) -> None:
        _disposition, options = parse_options_header(self.headers.get("content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self.part_name = name
        if name == FILE_FIELD and b"filename" in options:
            self.part_is_file = True
            self.file_parts += 1
            self.filename = options[b"filename"].decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        if self.part_is_file:
            if self.file_parts > 1:
                self.error = BadRequest(f"send one file in the {FILE_FIELD!r} field, not several")
                return
            self.file_bytes += end - start
            if self.file_bytes > self.max_file_bytes:
                self.error = PayloadTooLarge(
                    f"the file is larger than the {self.max_file_bytes} byte limit; "
                    "upload a smaller data set",
                    code="upload_too_large",
                )
                return
            self.pending.append(bytes(data[start:end]))
        else:
            self.field_bytes += end - start
            if self.field_bytes > MAX_FIELDS_BYTES:
                self.error = PayloadTooLarge(f"the form's text fields exceed {MAX_FIELDS_BYTES} bytes")
                return
            self.field_value.extend(data[start:end])

    def on_part_end(self) -> None:
        if not self.part_is_file and self.part_name:
            self.fields[self.part_name] = self.field_value.decode("utf-8", "replace")


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise UnsupportedMediaType(
            f"send multipart/form-data with the data set in a {FILE_FIELD!r} field (a .zip of class folders, "
            "or a .csv/.tsv)"
        )
    return options[b"boundary"]


def _upload_too_large(max_file_bytes: int) -> TooLarge:
    # The body's cap includes the form's framing; the person sending it knows only the file's limit.
    def error(declared: int | None) -> PayloadTooLarge:
        size = "larger than that" if declared is None else f"{declared} bytes"
        return PayloadTooLarge(
            f"the limit is {max_file_bytes} bytes for the file and the request is {size}; "
            "upload a smaller data set",
            code="upload_too_large",
        )

    return error


async def receive_upload(request: Request, *, destination: Path, max_file_bytes: int) -> ReceivedUpload:
    """Stream the request into ``destination``; raises 4xx errors. The caller removes the file."""
    boundary = _boundary(request)
    max_body = max_file_bytes + MAX_FIELDS_BYTES + _MULTIPART_SLACK
    too_large = _upload_too_large(max_file_bytes)
    refuse_declared_length(request, limit=max_body, too_large=too_large)
    state = _FormState(max_file_bytes=max_file_bytes)
    parser = MultipartParser(boundary, state.callbacks())
    sink = _FileSink(destination)
    try:
        async for chunk in capped_stream(request, limit=max_body, too_large=too_large):
            parser.write(chunk)
            if state.error is not None:
                raise state.error
            if state.pending:
                chunks, state.pending = state.pending, []
                await asyncio.to_thread(sink.write, chunks)
        parser.finalize()
    except MultipartParseError as e:
        raise BadRequest(f"the multipart body is malformed ({e}); send it as multipart/form-data") from e
    finally:
        sink.close()
    if state.file_parts == 0:
        raise BadRequest(f"the form has no {FILE_FIELD!r} file field; attach the data set as {FILE_FIELD!r}")
    return ReceivedUpload(
        path=destination,
        filename=safe_filename(state.filename or "upload"),
        size=state.file_bytes,
        sha256=sink.hash.hexdigest(),
        fields=state.fields,
    )
