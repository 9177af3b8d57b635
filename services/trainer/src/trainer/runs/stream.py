"""``GET /runs/{id}/events`` as Server-Sent Events: the run's event log from ``Last-Event-ID`` on,
then live, until the run's terminal state has been sent.

Each message is ``id: <seq>`` / ``event: <type>`` / ``data: <RunEventOut JSON>``. The log is read
when this instance changed the run (``runs/changes.py``) and polled (every ``poll_s``, on this
instance's own session maker, not the request's session), so an event written by any trainer instance
reaches every stream; a comment every ``keepalive_s`` keeps proxies
and the gateway's read timeout from closing an idle stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from prometheus_client import Gauge
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trainer.runs import event_log
from trainer.runs.changes import RunChanges
from trainer.runs.models import Run, RunEventRow
from trainer.runs.repository import TERMINAL

RETRY_MS = 2000
BATCH = 500


def sse_message(row: RunEventRow) -> bytes:
    data = json.dumps({"seq": row.seq, "at": row.at.isoformat(), "event": row.body}, separators=(",", ":"))
    return f"id: {row.seq}\nevent: {row.type}\ndata: {data}\n\n".encode()


async def run_events(
    maker: async_sessionmaker[AsyncSession],
    *,
    run_id: str,
    after: int,
    poll_s: float,
    keepalive_s: float,
    open_streams: Gauge,
    changes: RunChanges,
) -> AsyncIterator[bytes]:
    """``open_streams`` counts the streams being served: one that stays up after its client went away
    would show there (Starlette cancels this generator when the client disconnects). ``changes``: this
    instance's writers wake the stream at once (``runs/changes.py``); the poll finds everyone else's."""
    open_streams.inc()
    try:
        messages = _messages(
            maker, run_id=run_id, after=after, poll_s=poll_s, keepalive_s=keepalive_s, changes=changes
        )
        async for message in messages:
            yield message
    finally:
        open_streams.dec()


async def _messages(
    maker: async_sessionmaker[AsyncSession],
    *,
    run_id: str,
    after: int,
    poll_s: float,
    keepalive_s: float,
    changes: RunChanges,
) -> AsyncIterator[bytes]:
    yield f"retry: {RETRY_MS}\n\n".encode()
    last, quiet_since = after, time.monotonic()
    while True:
        change = changes.watch(run_id)  # before the read: a change committed after it wakes the wait
        async with maker() as session:
            # The state first: every event up to its event_seq is committed, so once the log has been
            # read past it and the run is over, nothing more can come.
            state = (
                await session.execute(select(Run.status, Run.event_seq).where(Run.id == run_id))
            ).one_or_none()
            rows = await event_log.after(session, run_id=run_id, seq=last, limit=BATCH)
        for row in rows:
            yield sse_message(row)
            last = row.seq
        if state is None:  # deleted meanwhile
            return
        if len(rows) == BATCH:
            continue
        if state.status in TERMINAL and last >= state.event_seq:
            return
        if rows:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= keepalive_s:
            yield b": keep-alive\n\n"
            quiet_since = time.monotonic()
        await changes.wait(change, timeout_s=poll_s)
