"""A capped request body on a real uvicorn server: up to the limit arrives whole; a declared size over it
is a 413 before a byte is read; a chunked body is cut off with a 413 at the first chunk past it, and
the handler saw no more than the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from common.bodies import capped_stream, refuse_declared_length
from common.errors import PayloadTooLarge, install_error_handlers
from common.testing.ports import free_port
from common.testing.serving import serve_in_loop
from fastapi import FastAPI, Request

LIMIT = 1000


def counting_app(seen: list[int]) -> FastAPI:
    """Echoes how many bytes it read; ``seen`` records the running total after every chunk."""
    app = FastAPI()
    install_error_handlers(app)

    @app.put("/default")
    async def default(request: Request) -> dict[str, int]:
        refuse_declared_length(request, limit=LIMIT)
        total = 0
        async for chunk in capped_stream(request, limit=LIMIT):
            total += len(chunk)
            seen.append(total)
        return {"bytes": total}

    @app.put("/custom")
    async def custom(request: Request) -> dict[str, int]:
        def too_large(declared: int | None) -> PayloadTooLarge:
            return PayloadTooLarge(f"declared={declared}", code="object_too_large")

        refuse_declared_length(request, limit=LIMIT, too_large=too_large)
        return {
            "bytes": sum([len(c) async for c in capped_stream(request, limit=LIMIT, too_large=too_large)])
        }

    return app


async def in_chunks(body: bytes, size: int = 300) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.fixture
async def served() -> AsyncIterator[tuple[httpx.AsyncClient, list[int]]]:
    seen: list[int] = []
    async with (
        serve_in_loop(counting_app(seen), free_port()) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        yield client, seen


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_of_exactly_the_limit_arrives_whole(served, chunked) -> None:
    client, _ = served
    body = b"x" * LIMIT
    response = await client.put("/default", content=in_chunks(body) if chunked else body)
    assert (response.status_code, response.json()) == (200, {"bytes": LIMIT})


async def test_a_declared_size_over_the_limit_is_a_413_before_a_byte_is_read(served) -> None:
    client, seen = served
    response = await client.put("/default", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": f"the request body is {LIMIT + 1} bytes; the limit is {LIMIT} bytes",
    }
    assert seen == []


async def test_a_chunked_body_over_the_limit_stops_at_the_first_chunk_past_it(served) -> None:
    client, seen = served
    response = await client.put("/default", content=in_chunks(b"x" * (LIMIT * 5)))
    assert response.status_code == 413
    assert response.json()["error"]["message"] == f"the request body is over the limit of {LIMIT} bytes"
    assert all(total <= LIMIT for total in seen)  # without the cap it would reach 5000


@pytest.mark.parametrize(("chunked", "declared"), [(False, "1001"), (True, "None")])
async def test_the_caller_words_its_own_413(served, chunked, declared) -> None:
    client, _ = served
    body = b"x" * (LIMIT + 1)
    response = await client.put("/custom", content=in_chunks(body) if chunked else body)
    assert response.status_code == 413
    assert response.json()["error"] == {"code": "object_too_large", "message": f"declared={declared}"}
