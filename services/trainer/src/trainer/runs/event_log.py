"""The run's event log (``run_events``): what a run's stream replays and its logs tail reads.

Each event has a per-run sequence number, taken from ``runs.event_seq`` by the same UPDATE that
changes the run (a worker's event, a claim, a state change). That UPDATE locks the run's row until
commit, so a run's events commit in the order of their numbers: a reader that has seen n has seen
everything below n, and ``Last-Event-ID: n`` resumes without a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from common.events import RunEvent, event_json
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from trainer.runs.models import RunEventRow


async def append(
    session: AsyncSession, *, run_id: str, last_seq: int, events: Sequence[RunEvent], at: datetime
) -> None:
    """Store ``events`` numbered up to ``last_seq`` (the run's ``event_seq`` after the UPDATE)."""
    first = last_seq - len(events) + 1
    session.add_all(
        RunEventRow(run_id=run_id, seq=first + i, type=e.type, body=event_json(e), at=at)
        for i, e in enumerate(events)
    )
    await session.flush()


async def after(session: AsyncSession, *, run_id: str, seq: int, limit: int) -> Sequence[RunEventRow]:
    query = (
        select(RunEventRow)
        .where(RunEventRow.run_id == run_id, RunEventRow.seq > seq)
        .order_by(RunEventRow.seq)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def log_tail(session: AsyncSession, *, run_id: str, lines: int) -> list[RunEventRow]:
    query = (
        select(RunEventRow)
        .where(RunEventRow.run_id == run_id, RunEventRow.type == "log")
        .order_by(RunEventRow.seq.desc())
        .limit(lines)
    )
    return list(reversed((await session.execute(query)).scalars().all()))


async def delete_for(session: AsyncSession, *, run_id: str) -> None:
    await session.execute(delete(RunEventRow).where(RunEventRow.run_id == run_id))
