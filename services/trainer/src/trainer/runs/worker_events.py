"""What a training process may tell the trainer, checked against its attempt's own token.

A worker's token names one attempt of one run. An event is applied only while that attempt is the run's
current one and the run is running; the same conditional UPDATE renews the lease. Anything else is
refused (401 for a token of no attempt of this run, 409 for a superseded attempt), and the worker stops.
Workers report; they never end a run: the dispatcher settles it from what the attempt stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from common.errors import Conflict, Unauthorized
from common.events import (
    EPOCH_TYPES,
    FailedEvent,
    HeartbeatEvent,
    LogEvent,
    SucceededEvent,
    WorkerEvent,
    event_json,
)
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from trainer.runs import event_log, live
from trainer.runs import repository as repo
from trainer.runs.models import Run

HISTORY_LIMIT = 500


class StaleAttempt(Conflict):
    code = "stale_attempt"


async def authenticate(session: AsyncSession, *, run_id: str, token: str) -> tuple[Run, int]:
    """The run and the attempt number a worker's token is good for, now."""
    found = await repo.current_attempt_for_token(session, run_id=run_id, token=token) if token else None
    if found is None:
        raise Unauthorized(f"this token is not a credential of run {run_id}")
    run, attempt = found
    if repo.aware(attempt.expires_at) < repo.now():
        raise Unauthorized(f"the token of attempt {attempt.attempt} of run {run_id} has expired")
    if run.status != "running" or run.attempts != attempt.attempt or run.deleted_at is not None:
        raise StaleAttempt(
            f"attempt {attempt.attempt} of run {run_id} was superseded (the run is {run.status}, "
            f"attempt {run.attempts}); this worker must stop"
        )
    return run, attempt.attempt


async def record_event(
    session: AsyncSession, *, run_id: str, token: str, event: WorkerEvent, lease_s: float
) -> None:
    """Apply the event to the run (its phase, counter, metrics) and append it to the run's event log,
    in one conditional UPDATE that also renews the lease; a heartbeat only renews the lease."""
    run, attempt = await authenticate(session, run_id=run_id, token=token)
    stamp = repo.now()
    values: dict[str, Any] = {"heartbeat_at": stamp, "lease_expires_at": stamp + timedelta(seconds=lease_s)}
    body = event_json(event)
    stored = not isinstance(event, HeartbeatEvent)
    if isinstance(event, FailedEvent):
        # The attempt's own verdict; the dispatcher turns it into the run's end when the process exits.
        values["error"] = event.error
        values["progress"] = {**run.progress, "type": "failed", "attempt": attempt}
    elif isinstance(event, SucceededEvent):
        values["progress"] = {**run.progress, "type": "succeeded", "attempt": attempt}
    elif stored and not isinstance(event, LogEvent):
        values["progress"] = {**body, "attempt": attempt}
        values |= live.apply(run, event, stamp)
        if event.type in EPOCH_TYPES:
            entry = {k: v for k, v in body.items() if k != "type"} | {"attempt": attempt}
            history = [*run.metrics.get("history", []), entry]
            values["metrics"] = {**run.metrics, "history": history[-HISTORY_LIMIT:]}
    if stored:
        values["event_seq"] = Run.event_seq + 1
    result = await session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == "running", Run.attempts == attempt)
        .values(**values)
        .returning(Run.event_seq)
        .execution_options(synchronize_session=False)
    )
    seq = result.scalar_one_or_none()
    if seq is None:
        raise StaleAttempt(f"attempt {attempt} of run {run_id} was superseded; this worker must stop")
    if stored:
        await event_log.append(session, run_id=run_id, last_seq=seq, events=[event], at=stamp)
