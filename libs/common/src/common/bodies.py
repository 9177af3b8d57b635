"""A request body read as a stream with a hard byte cap, counted while it arrives.

Starlette buffers or spools a body without a limit, so every service that accepts one (a data set
upload, a run's object, an image or texts to predict on) reads ``request.stream()`` through here: a
declared ``Content-Length`` over the cap is refused before a byte is read, and the first chunk past it
ends the request, so no more than the cap is ever held or written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from fastapi import Request
from starlette.requests import ClientDisconnect

from common.errors import AppError, BadRequest, PayloadTooLarge

# Builds the 413 to raise: given the declared size, or None when the body went past the cap while read.
TooLarge = Callable[[int | None], AppError]


def body_too_large(limit: int) -> TooLarge:
    """The default error: a 413 that names the size and the limit."""

    def error(declared: int | None) -> AppError:
        if declared is None:
            return PayloadTooLarge(f"the request body is over the limit of {limit} bytes")
        return PayloadTooLarge(f"the request body is {declared} bytes; the limit is {limit} bytes")

    return error


def declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


def refuse_declared_length(request: Request, *, limit: int, too_large: TooLarge | None = None) -> None:
    """Raise the 413 at once when the request's ``Content-Length`` is over ``limit``."""
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise (too_large or body_too_large(limit))(declared)


async def capped_stream(
    request: Request, *, limit: int, too_large: TooLarge | None = None
) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; raises the 413 on the first chunk that takes it past ``limit``
    bytes, and a 400 when the client goes away before the body ended."""
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise (too_large or body_too_large(limit))(None)
            yield chunk
    except ClientDisconnect as e:
        raise BadRequest("the request body was cut off before it ended; send it again") from e
