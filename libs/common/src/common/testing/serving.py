"""An ASGI app on a real uvicorn server inside the running event loop, so a test can reach it over
loopback HTTP and still hold or inspect the app's objects (a model-run thread, a dispatcher)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn


class ServerFailedToStart(RuntimeError):
    pass


async def _serve(server: uvicorn.Server, where: str) -> None:
    # uvicorn calls sys.exit when it cannot bind or the app's startup fails; SystemExit out of a task
    # would stop the whole event loop (the test run's), so it becomes an ordinary error here.
    try:
        await server.serve()
    except SystemExit as e:
        raise ServerFailedToStart(f"uvicorn on {where} exited with status {e.code} (see its log)") from e


@asynccontextmanager
async def serve_in_loop(
    app, port: int, *, host: str = "127.0.0.1", start_within_s: float = 30.0
) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` until the block ends; yields the base URL. The app's lifespan runs
    inside the server. Fails if the server stops before it started, or has not started in time."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    task = asyncio.create_task(_serve(server, f"{host}:{port}"))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + start_within_s
    while not server.started:
        if task.done():
            task.result()  # the server's own error, if it raised one
            raise ServerFailedToStart(f"uvicorn on {host}:{port} stopped before it started (see its log)")
        if loop.time() > deadline:
            # Cancelled, not asked to exit: uvicorn reads should_exit only once started, so a lifespan
            # stuck in its startup would keep the task (and the test) waiting forever.
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise TimeoutError(f"uvicorn on {host}:{port} not started after {start_within_s}s")
        await asyncio.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
