"""Every query on runs and their attempts. Callers own the transaction: nothing here commits.

Every change to a running run is a compare-and-set on (status, attempt): of two writers racing for the
same run (two dispatchers, a stale worker and a new one, a user's cancel and a settle), exactly one wins.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from common.events import PhaseEvent, StateEvent
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from trainer.runs import event_log
from trainer.runs.models import Run, RunAttempt

TERMINAL = ("succeeded", "failed", "cancelled")


def now() -> datetime:
    return datetime.now(UTC)


def aware(stamp: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Claim:
    run: Run
    attempt: RunAttempt
    token: str  # plaintext, handed to the worker once; only its hash is stored


def _is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def add_run(session: AsyncSession, run: Run) -> Run:
    session.add(run)
    await session.flush()
    return run


async def get_owned_run(session: AsyncSession, *, owner: str, run_id: str) -> Run | None:
    """The owner's run, unless it is being deleted."""
    query = select(Run).where(Run.id == run_id, Run.owner == owner, Run.deleted_at.is_(None))
    return (await session.execute(query)).scalar_one_or_none()


async def get_run(session: AsyncSession, *, run_id: str) -> Run | None:
    return await session.get(Run, run_id, populate_existing=True)


async def get_by_idempotency_key(session: AsyncSession, *, owner: str, key: str) -> Run | None:
    return (
        await session.execute(select(Run).where(Run.owner == owner, Run.idempotency_key == key))
    ).scalar_one_or_none()


async def list_owned_runs(
    session: AsyncSession, *, owner: str, limit: int, offset: int, dataset_id: str | None = None
) -> tuple[Sequence[Run], int]:
    where = [Run.owner == owner, Run.deleted_at.is_(None)]
    if dataset_id:
        where.append(Run.dataset_id == dataset_id)
    total = (await session.execute(select(func.count()).select_from(Run).where(*where))).scalar_one()
    rows = (
        await session.execute(
            select(Run).where(*where).order_by(Run.created_at.desc()).limit(limit).offset(offset)
        )
    ).scalars()
    return rows.all(), total


async def queue_position(session: AsyncSession, run: Run) -> int | None:
    """1 for the next run to be claimed; None unless queued."""
    if run.status != "queued":
        return None
    ahead = await session.execute(
        select(func.count()).select_from(Run).where(Run.status == "queued", Run.created_at < run.created_at)
    )
    return ahead.scalar_one() + 1


async def claim_next_run(
    session: AsyncSession, *, executor: str, instance_id: str, lease_s: float, token_ttl_s: float
) -> Claim | None:
    """The oldest queued run, claimed (``claim_runs`` with a limit of one); None when none is queued."""
    claims = await claim_runs(
        session, limit=1, executor=executor, instance_id=instance_id, lease_s=lease_s, token_ttl_s=token_ttl_s
    )
    return claims[0] if claims else None


async def claim_runs(
    session: AsyncSession,
    *,
    limit: int,
    executor: str,
    instance_id: str,
    lease_s: float,
    token_ttl_s: float,
) -> list[Claim]:
    """Move up to ``limit`` of the oldest queued runs to running, count each one's attempt, take a
    lease and mint the attempt's token: one UPDATE for the runs, one INSERT for the attempts.

    Empty when the queue is empty (or, rarely, the runs were taken meanwhile: the next call goes on).
    The conditional UPDATE makes the claim atomic: of two dispatchers racing for the same row, only one
    updates it (on Postgres the subquery skips rows another transaction has locked, so racing
    dispatchers take different rows instead of colliding).

    On Postgres the claim's transaction commits without waiting for its WAL flush (``synchronous_commit
    = off``, this transaction only). What that can cost is the claim itself, only if the database
    server crashes within a fraction of a second of the commit: the run is queued again with its
    previous attempt count and the lost attempt's token is unknown, so that worker's first event or
    object request is refused (401) and it stops, and the dispatcher stops the process it tracks for
    an attempt that is not the run's current one; the run is then claimed again. A run still ends
    exactly once: every later change of it is a compare-and-set committed synchronously.
    """
    candidates = select(Run.id).where(Run.status == "queued").order_by(Run.created_at).limit(limit)
    if _is_postgres(session):
        # A materialized CTE: the locking subquery runs exactly once. As a plain ``IN (SELECT ... LIMIT n
        # FOR UPDATE SKIP LOCKED)`` the planner may run it again per row, and with SKIP LOCKED each run
        # can return other rows: more than ``limit`` runs, some already claimed elsewhere, get updated.
        picked = candidates.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        candidates = select(picked.c.id)
        await session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    stamp = now()
    # One statement picks and takes the runs (UPDATE ... WHERE id IN (SELECT ...) RETURNING).
    claimed = await session.execute(
        update(Run)
        .where(Run.id.in_(candidates), Run.status == "queued")
        .values(
            status="running",
            attempts=Run.attempts + 1,
            # The first attempt's start: a retry keeps it (the run's duration spans every attempt).
            started_at=func.coalesce(Run.started_at, stamp),
            heartbeat_at=stamp,
            lease_expires_at=stamp + timedelta(seconds=lease_s),
            instance_id=instance_id,
            executor=executor,
            executor_ref=None,
            error=None,
            # A claimed run says so at once; the worker's first event replaces it within a second or two.
            progress={"type": "phase", "phase": "starting"},
            phase="starting",
            phase_started_at=stamp,
            counter=None,
            event_seq=Run.event_seq + 2,  # its state, then its phase
        )
        .returning(Run)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    runs = sorted(claimed.scalars().all(), key=lambda r: aware(r.created_at))
    claims = []
    for run in runs:
        token = secrets.token_urlsafe(32)
        attempt = RunAttempt(
            run_id=run.id,
            attempt=run.attempts,
            instance_id=instance_id,
            token_hash=hash_token(token),
            executor=executor,
            started_at=stamp,
            expires_at=stamp + timedelta(seconds=token_ttl_s),
        )
        session.add(attempt)
        claims.append(Claim(run=run, attempt=attempt, token=token))
    if claims:
        await session.flush()
    for claim in claims:
        await event_log.append(
            session,
            run_id=claim.run.id,
            last_seq=claim.run.event_seq,
            events=[StateEvent(status="running", attempt=claim.run.attempts), PhaseEvent(phase="starting")],
            at=stamp,
        )
    return claims


async def current_attempt_for_token(
    session: AsyncSession, *, run_id: str, token: str
) -> tuple[Run, RunAttempt] | None:
    """The run and attempt a worker's token belongs to, or None for a token of no attempt of this run."""
    found = (
        await session.execute(
            select(RunAttempt).where(RunAttempt.run_id == run_id, RunAttempt.token_hash == hash_token(token))
        )
    ).scalar_one_or_none()
    if found is None:
        return None
    run = await get_run(session, run_id=run_id)
    return (run, found) if run is not None else None


async def get_attempt(session: AsyncSession, *, run_id: str, attempt: int) -> RunAttempt | None:
    return await session.get(RunAttempt, (run_id, attempt))


async def renew_lease(session: AsyncSession, *, run_id: str, attempt: int, lease_s: float) -> bool:
    stamp = now()
    result = await session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == "running", Run.attempts == attempt)
        .values(heartbeat_at=stamp, lease_expires_at=stamp + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def transition(
    session: AsyncSession,
    *,
    run_id: str,
    attempt: int,
    status: str,
    outcome: str | None = None,
    **values: Any,
) -> bool:
    """Compare-and-set a running run's attempt to a new status; False when someone else got there first."""
    stamp = now()
    if status in TERMINAL:
        values.setdefault("finished_at", stamp)
    if status != "running":
        values.setdefault("lease_expires_at", None)
    if status == "queued":  # requeued: waiting again
        values |= {"phase": "queued", "phase_started_at": stamp, "counter": None}
    elif status == "succeeded":
        values |= {"phase": "finished", "phase_started_at": stamp}
    result = await session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == "running", Run.attempts == attempt)
        .values(status=status, event_seq=Run.event_seq + 1, **values)
        .returning(Run.event_seq)
        .execution_options(synchronize_session=False)
    )
    seq = result.scalar_one_or_none()
    if seq is None:
        return False
    state = StateEvent(
        status=status,
        attempt=attempt,
        error=values.get("error"),
        reason=outcome if status == "queued" else None,
    )
    await event_log.append(session, run_id=run_id, last_seq=seq, events=[state], at=stamp)
    await session.execute(
        update(RunAttempt)
        .where(RunAttempt.run_id == run_id, RunAttempt.attempt == attempt)
        .values(ended_at=stamp, outcome=outcome or values.get("error") or status)
        .execution_options(synchronize_session=False)
    )
    return True


async def cancel_queued(session: AsyncSession, *, run_id: str) -> bool:
    stamp, error = now(), "cancelled by the user"
    result = await session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == "queued")
        .values(status="cancelled", error=error, finished_at=stamp, event_seq=Run.event_seq + 1)
        .returning(Run.event_seq)
        .execution_options(synchronize_session=False)
    )
    seq = result.scalar_one_or_none()
    if seq is None:
        return False
    state = StateEvent(status="cancelled", attempt=0, error=error)
    await event_log.append(session, run_id=run_id, last_seq=seq, events=[state], at=stamp)
    return True


async def expired_leases(session: AsyncSession, *, limit: int = 50) -> list[str]:
    """Ids of running runs whose lease ran out: their worker stopped reporting, whoever launched it."""
    query = (
        select(Run.id)
        .where(Run.status == "running", Run.lease_expires_at < now())
        .order_by(Run.lease_expires_at)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars().all())


async def lock_expired(session: AsyncSession, *, run_id: str) -> Run | None:
    """The run if its lease is still expired, locked until commit on Postgres (None when another
    instance holds it or it moved on)."""
    query = select(Run).where(Run.id == run_id, Run.status == "running", Run.lease_expires_at < now())
    if _is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()


async def runs_in_status(
    session: AsyncSession, *, status: str, executor: str | None = None, instance_id: str | None = None
) -> Sequence[Run]:
    query = select(Run).where(Run.status == status)
    if executor is not None:
        query = query.where(Run.executor == executor)
    if instance_id is not None:
        query = query.where(Run.instance_id == instance_id)
    return (await session.execute(query.order_by(Run.created_at))).scalars().all()


async def runs_of_dataset(session: AsyncSession, *, owner: str, dataset_id: str) -> Sequence[Run]:
    """Every run of the owner on the data set, those being deleted included."""
    query = select(Run).where(Run.owner == owner, Run.dataset_id == dataset_id).order_by(Run.created_at)
    return (await session.execute(query)).scalars().all()


async def mark_deleted(session: AsyncSession, *, run_ids: Sequence[str]) -> None:
    await session.execute(
        update(Run)
        .where(Run.id.in_(list(run_ids)), Run.deleted_at.is_(None))
        .values(deleted_at=now())
        .execution_options(synchronize_session=False)
    )


async def delete_run(session: AsyncSession, run: Run) -> None:
    await event_log.delete_for(session, run_id=run.id)
    await session.delete(run)
    await session.flush()


async def expired_runs(
    session: AsyncSession, *, run_ttl_s: float, model_ttl_s: float, limit: int = 50
) -> list[str]:
    """Ids of finished runs past their retention: a run with a model after ``model_ttl_s``, any other
    finished run after ``run_ttl_s`` (0 = kept for ever), both counted from when the run ended."""
    stamp = now()
    expired = []
    if model_ttl_s > 0:
        expired.append(
            (Run.status == "succeeded")
            & Run.model_id.is_not(None)
            & (Run.finished_at < stamp - timedelta(seconds=model_ttl_s))
        )
    if run_ttl_s > 0:
        expired.append(
            Run.status.in_(TERMINAL)
            & ((Run.status != "succeeded") | Run.model_id.is_(None))
            & (Run.finished_at < stamp - timedelta(seconds=run_ttl_s))
        )
    if not expired:
        return []
    query = select(Run.id).where(or_(*expired)).order_by(Run.finished_at).limit(limit)
    return list((await session.execute(query)).scalars().all())


async def lock_finished(session: AsyncSession, *, run_id: str) -> Run | None:
    """The finished run, locked until commit on Postgres; None when another instance holds it (it is
    removing it) or it is gone."""
    query = select(Run).where(Run.id == run_id, Run.status.in_(TERMINAL))
    if _is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
