"""The serving bench's load generator: open-loop arrivals at a fixed rate, a precise send clock, and
its own lean HTTP/1.1 keep-alive client over asyncio streams.

Latency runs from each request's *scheduled* send time, so a generator that falls behind counts
against the figure (no coordinated omission).

Why not httpx: on this machine httpx itself takes about 1 ms per request when busy and 2-3 ms after an
idle gap (a GET /healthz answered by uvicorn in 0.2 ms took 1.2 ms sequential and 3.2 ms at 10 req/s
through httpx, 1.1 ms through a raw socket), so at low rates it would measure the client, not the
platform. Load generators are built lean for this reason (wrk2, vegeta). This one speaks just what the
bench needs: one request per connection at a time, ``Content-Length`` or chunked answers, a fresh
connection when the server closed an idle one.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

# asyncio's epoll timeout is rounded up to whole milliseconds, so a sleep ends up to ~1 ms late; the
# clock sleeps to this margin before the send time and finishes with a precise blocking sleep.
SLEEP_MARGIN_S = 0.0015
REQUEST_TIMEOUT_S = 10.0
MAX_REQUESTS_PER_RATE = 2000

# i -> (body, headers) of the i-th request.
Call = Callable[[int], tuple[bytes, dict[str, str]]]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


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
        try:
            writer.write(message)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            writer.close()
            raise ConnectionDropped() from e
        except BaseException:  # a timeout mid-exchange: the connection's state is unknown
            writer.close()
            raise
        status_line, _, raw_headers = head.decode("latin-1").partition("\r\n")
        headers: dict[str, str] = {}
        for line in raw_headers.split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        try:
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = await _read_chunked(reader)
            else:
                body = await reader.readexactly(int(headers.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
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


@dataclass
class RateResult:
    rate: float
    sent: int
    latencies_ms: list[float]
    statuses: Counter
    timeouts: int
    other_errors: int
    max_send_lag_ms: float

    @property
    def errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s != 200) + self.timeouts + self.other_errors

    @property
    def only_503s(self) -> bool:
        return self.timeouts == 0 and self.other_errors == 0 and set(self.statuses) <= {200, 503}

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    def line(self) -> str:
        lat = self.latencies_ms
        figures = (
            f"p50 {self.p50:7.1f}  p99 {percentile(lat, 99):7.1f}  max {max(lat):7.1f}"
            if lat
            else "no successful answer"
        )
        refused = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()) if s != 200) or "none"
        return (
            f"{self.rate:6.0f} req/s  n={self.sent:5d}  {figures} ms  errors {self.errors} ({refused}; "
            f"timeouts {self.timeouts}, transport {self.other_errors})  "
            f"send lag max {self.max_send_lag_ms:.1f} ms"
        )


async def open_loop(
    client: RawHttpClient, method: str, path: str, call: Call, *, rate: float, seconds: float
) -> RateResult:
    """``rate`` requests a second for ``seconds`` (at most ``MAX_REQUESTS_PER_RATE``), each sent at its
    scheduled time whatever the earlier ones are doing."""
    count = max(1, min(int(rate * seconds), MAX_REQUESTS_PER_RATE))
    latencies: list[float] = []
    statuses: Counter = Counter()
    timeouts = other = 0
    lags: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int) -> None:
        nonlocal timeouts, other
        scheduled = start + i / rate
        await sleep_until(scheduled)
        lags.append((loop.time() - scheduled) * 1000)
        body, headers = call(i)
        try:
            answer = await asyncio.wait_for(
                client.request(method, path, headers=headers, body=body), REQUEST_TIMEOUT_S
            )
        except TimeoutError:
            timeouts += 1
            return
        except (ConnectionDropped, OSError):
            other += 1
            return
        statuses[answer.status] += 1
        if answer.status == 200:
            latencies.append((loop.time() - scheduled) * 1000)

    await asyncio.gather(*(one(i) for i in range(count)))
    return RateResult(rate, count, latencies, statuses, timeouts, other, max(lags))


async def sequential_ms(client: RawHttpClient, path: str, call: Call, n: int) -> list[float]:
    """``n`` requests one after the other; the time of each (raises on an answer that is not a 200)."""
    times = []
    for i in range(n):
        body, headers = call(i)
        start = time.perf_counter()
        answer = await client.request("POST", path, headers=headers, body=body)
        times.append((time.perf_counter() - start) * 1000)
        if answer.status != 200:
            raise RuntimeError(f"POST {path} answered {answer.status}: {answer.body[:300]!r}")
    return times
