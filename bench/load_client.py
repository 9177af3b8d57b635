"""The load generator's HTTP client: HTTP/1.1 keep-alive over asyncio streams, and a precise send clock.

Why not httpx: on this machine httpx itself takes about 1 ms per request when busy and 2-3 ms after an
idle gap (a GET /healthz answered by uvicorn in 0.2 ms took 1.2 ms sequential and 3.2 ms at 10 req/s
through httpx, 1.1 ms through a raw socket), so at low rates it would measure the client, not the
platform. Load generators are built lean for this reason (wrk2, vegeta). This one speaks just what the
bench needs: one request per connection at a time, ``Content-Length`` or chunked answers, a fresh
connection when the server closed an idle one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

# asyncio's epoll timeout is rounded up to whole milliseconds, so a sleep ends up to ~1 ms late; the
# clock sleeps to this margin before the send time and finishes with a precise blocking sleep.
SLEEP_MARGIN_S = 0.0015


async def sleep_until(when: float) -> None:
    """Return at ``loop.time() >= when``, within ~0.1 ms when the loop is not busy."""
    loop = asyncio.get_running_loop()
    coarse = when - loop.time() - SLEEP_MARGIN_S
    if coarse > 0:
        await asyncio.sleep(coarse)
    remaining = when - loop.time()
    if remaining > 0:
        time.sleep(remaining)  # noqa: ASYNC251 - at most SLEEP_MARGIN_S, on purpose: a precise send time


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class ConnectionDropped(Exception):
    """The server closed the connection before a whole answer came."""


class RawHttpClient:
    """``await client.request("POST", "/api/predict", headers=..., body=...)`` -> ``Answer``."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"expected http://host:port, got {base_url!r}")
        self._host, self._port = parts.hostname, parts.port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Answer:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self._host}:{self._port}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        message = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        while self._idle:  # an idle connection the server closed answers nothing: try the next one
            reader, writer = self._idle.pop()
            try:
                return await self._exchange(reader, writer, message)
            except (ConnectionDropped, ConnectionError):
                writer.close()
        reader, writer = await asyncio.open_connection(self._host, self._port)
        return await self._exchange(reader, writer, message)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes
    ) -> Answer:
        writer.write(message)
        await writer.drain()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            raise ConnectionDropped() from e
        status_line, _, raw_headers = head.decode("latin-1").partition("\r\n")
        headers: dict[str, str] = {}
        for line in raw_headers.split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.append((reader, writer))
        return Answer(int(status_line.split()[1]), headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers from these servers: the final CRLF
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
