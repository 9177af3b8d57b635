"""Every query on runs. Callers own the transaction: nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trainer.runs.models import Run

TERMINAL = ("succeeded", "failed", "cancelled")


def now() -> datetime:
    return datetime.now(UTC)


async def add_run(session: AsyncSession, run: Run) -> Run:
    session.add(run)
    await session.flush()
    return run


async def get_owned_run(session: AsyncSession, *, owner: str, run_id: str) -> Run | None:
    return (
        await session.execute(select(Run).where(Run.id == run_id, Run.owner == owner))
    ).scalar_one_or_none()


async def get_run(session: AsyncSession, *, run_id: str) -> Run | None:
    return await session.get(Run, run_id)


async def list_owned_runs(
    session: AsyncSession, *, owner: str, limit: int, offset: int, dataset_id: str | None = None
) -> tuple[Sequence[Run], int]:
    where = [Run.owner == owner]
    if dataset_id:
        where.append(Run.dataset_id == dataset_id)
    total = (await session.execute(select(func.count()).select_from(Run).where(*where))).scalar_one()
    rows = (
        await session.execute(
            select(Run).where(*where).order_by(Run.created_at.desc()).limit(limit).offset(offset)
        )
    ).scalars()
    return rows.all(), total


async def claim_next_run(session: AsyncSession, *, executor: str) -> Run | None:
    """Move the oldest queued run to running and count the attempt; None when the queue is empty.

    The conditional UPDATE makes the claim atomic: of two dispatchers racing for the same row,
    only one sees rowcount 1 (Postgres also skips rows another transaction has locked).
    """
    candidate = select(Run.id).where(Run.status == "queued").order_by(Run.created_at).limit(1)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    run_id = (await session.execute(candidate)).scalar_one_or_none()
    if run_id is None:
        return None
    stamp = now()
    result = await session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == "queued")
        .values(
            status="running",
            attempts=Run.attempts + 1,
            # The first attempt's start: a retry keeps it (the run's duration spans every attempt).
            started_at=func.coalesce(Run.started_at, stamp),
            heartbeat_at=stamp,
            executor=executor,
            executor_ref=None,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    run = await session.get(Run, run_id, populate_existing=True)
    return run


async def runs_in_status(session: AsyncSession, *, status: str, executor: str | None = None) -> Sequence[Run]:
    query = select(Run).where(Run.status == status)
    if executor is not None:
        query = query.where(Run.executor == executor)
    return (await session.execute(query.order_by(Run.created_at))).scalars().all()


def finish(run: Run, *, status: str, error: str | None = None, **values: Any) -> None:
    run.status = status
    run.error = error
    run.finished_at = now()
    for key, value in values.items():
        setattr(run, key, value)
