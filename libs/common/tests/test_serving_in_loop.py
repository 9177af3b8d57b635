"""``serve_in_loop``: an app on real uvicorn in the test's event loop, reachable over loopback with its
lifespan run, gone when the block ends; an app that cannot start fails the test instead of hanging it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from common.testing.ports import free_port
from common.testing.serving import ServerFailedToStart, serve_in_loop
from fastapi import FastAPI


def app_with_lifespan(events: list[str], *, fail_startup: bool = False, hang: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if fail_startup:
            raise RuntimeError("no database")
        if hang:
            await asyncio.Event().wait()
        events.append("started")
        yield
        events.append("stopped")

    app = FastAPI(lifespan=lifespan)

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    return app


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def test_serves_over_loopback_with_lifespan_and_stops_after_the_block() -> None:
    events: list[str] = []
    port = free_port()
    async with serve_in_loop(app_with_lifespan(events), port) as url, httpx.AsyncClient() as client:
        assert url == f"http://127.0.0.1:{port}"
        assert (await client.get(f"{url}/ping")).json() == {"ok": True}
        assert events == ["started"]
    assert events == ["started", "stopped"]
    assert not listening(port)


async def test_an_app_that_fails_its_startup_raises_instead_of_waiting() -> None:
    with pytest.raises(ServerFailedToStart, match="exited with status"):
        async with serve_in_loop(app_with_lifespan([], fail_startup=True), free_port()):
            pytest.fail("the block must not run")


async def test_a_port_in_use_raises_instead_of_waiting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerFailedToStart, match="exited with status"):
            async with serve_in_loop(app_with_lifespan([]), port):
                pytest.fail("the block must not run")


async def test_an_app_whose_startup_hangs_times_out_instead_of_waiting() -> None:
    async def enter() -> None:
        async with serve_in_loop(app_with_lifespan([], hang=True), free_port(), start_within_s=0.3):
            pytest.fail("the block must not run")

    with pytest.raises(TimeoutError, match="not started after 0.3s"):
        await asyncio.wait_for(enter(), 10)  # without the cancel, the wait_for's own TimeoutError
