"""Read images from a request with hard byte caps counted while streaming, before anything is decoded."""

from __future__ import annotations

from collections.abc import AsyncIterator

from common.bodies import TooLarge, capped_stream, refuse_declared_length
from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from inference.predict.errors import (
    MalformedUpload,
    MissingUpload,
    TooManyFiles,
    UnsupportedUpload,
    UploadTooLarge,
)

RAW_BODY_TYPES = ("application/octet-stream",)
MAX_FORM_FIELDS = 16
# Boundaries and part headers around the image in a multipart body.
MULTIPART_ALLOWANCE = 64 * 1024


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _too_large(max_bytes: int) -> TooLarge:
    def error(declared: int | None) -> UploadTooLarge:
        if declared is None:
            return UploadTooLarge(f"request body exceeds the limit of {max_bytes} bytes")
        return UploadTooLarge(f"request body is {declared} bytes; the limit is {max_bytes}")

    return error


def _refuse_declared_length(request: Request, *, max_bytes: int) -> None:
    refuse_declared_length(request, limit=max_bytes, too_large=_too_large(max_bytes))


def _capped(request: Request, *, max_bytes: int) -> AsyncIterator[bytes]:
    return capped_stream(request, limit=max_bytes, too_large=_too_large(max_bytes))


async def _read_form_files(
    request: Request, *, field: str, max_bytes: int, max_files: int, too_many_hint: str
) -> list[tuple[str, bytes]]:
    parser = MultiPartParser(
        request.headers,
        _capped(request, max_bytes=max_bytes),
        max_files=max_files,
        max_fields=MAX_FORM_FIELDS,
        max_part_size=64 * 1024,
    )
    try:
        form = await parser.parse()
    except MultiPartException as e:
        if e.message.startswith("Too many files"):
            raise TooManyFiles(f"at most {max_files} file(s) per request; {too_many_hint}") from e
        raise MalformedUpload(f"malformed multipart body: {e.message}") from e
    try:
        uploads = form.getlist(field)
        if any(not isinstance(u, UploadFile) for u in uploads):
            raise MissingUpload(f"multipart field {field!r} must be a file upload, not a text value")
        if not uploads:
            raise MissingUpload(f"no multipart field {field!r}; send the image(s) as {field}=@<path>")
        return [(u.filename or f"{field}[{i}]", await u.read()) for i, u in enumerate(uploads)]
    finally:
        await form.close()


async def read_one_image(request: Request, *, max_bytes: int) -> tuple[str, bytes]:
    """(filename, bytes) from a multipart field ``file`` or from a raw ``image/*`` body.

    ``max_bytes`` caps the image; a multipart body may exceed it by ``MULTIPART_ALLOWANCE`` of framing.
    """
    kind = media_type(request)
    if kind == "multipart/form-data":
        _refuse_declared_length(request, max_bytes=max_bytes + MULTIPART_ALLOWANCE)
        ((filename, data),) = await _read_form_files(
            request,
            field="file",
            max_bytes=max_bytes + MULTIPART_ALLOWANCE,
            max_files=1,
            too_many_hint="send several images to POST /api/predict/batch as 'files' fields",
        )
        if len(data) > max_bytes:
            raise UploadTooLarge(f"image {filename!r} is {len(data)} bytes; the limit is {max_bytes}")
        return filename, data
    if kind.startswith("image/") or kind in RAW_BODY_TYPES:
        _refuse_declared_length(request, max_bytes=max_bytes)
        return "body", b"".join([chunk async for chunk in _capped(request, max_bytes=max_bytes)])
    received = f"content type {kind!r} is not accepted" if kind else "the request has no body or content type"
    raise UnsupportedUpload(
        f"{received}; send multipart/form-data with a 'file' field, or the raw image with an image/* "
        "content type"
    )


async def read_many_images(
    request: Request, *, max_bytes: int, max_file_bytes: int, max_files: int
) -> list[tuple[str, bytes]]:
    """(filename, bytes) pairs, in upload order, from the multipart fields ``files``."""
    _refuse_declared_length(request, max_bytes=max_bytes)
    if media_type(request) != "multipart/form-data":
        raise UnsupportedUpload("a batch must be multipart/form-data with one 'files' field per image")
    images = await _read_form_files(
        request, field="files", max_bytes=max_bytes, max_files=max_files, too_many_hint="split the batch"
    )
    for index, (filename, data) in enumerate(images):
        if len(data) > max_file_bytes:
            raise UploadTooLarge(
                f"file {index} ({filename!r}) is {len(data)} bytes; the limit per image is {max_file_bytes}",
                detail={"index": index, "filename": filename},
            )
    return images
