"""The maintenance switch: while on, new runs are refused (503 + Retry-After), running runs finish and
queued runs stay queued: the dispatchers start nothing until it is turned off. The switch is a row in the
trainer's database, so every replica sees it and it survives restarts; the ``maintenance`` setting forces
it on for a replica regardless of the row."""

from __future__ import annotations

from common.errors import ServiceUnavailable
from common.maintenance import MAINTENANCE_CODE, MaintenanceChange, MaintenanceState
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from trainer.admin.models import MaintenanceSwitch
from trainer.runs import repository as runs_repo
from trainer.runs.models import Run
from trainer.settings import Settings

DEFAULT_REASON = "Trainyard is under maintenance: new runs are not accepted for now"


class UnderMaintenance(ServiceUnavailable):
    code = MAINTENANCE_CODE

    def __init__(self, state: MaintenanceState) -> None:
        super().__init__(
            f"{state.reason}; retry in {state.retry_after_s} s (queued and running runs are kept)",
            detail={
                "retry_after_s": state.retry_after_s,
                "since": state.changed_at and state.changed_at.isoformat(),
            },
        )
        self.headers = {"Retry-After": str(state.retry_after_s)}


async def _switch(session: AsyncSession, *, lock: bool = False) -> MaintenanceSwitch | None:
    query = select(MaintenanceSwitch).where(MaintenanceSwitch.id == 1)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()


async def is_on(session: AsyncSession, *, settings: Settings) -> bool:
    """The dispatcher's question, once per tick: one primary-key read."""
    if settings.maintenance:
        return True
    row = await _switch(session)
    return row is not None and row.enabled


async def state(session: AsyncSession, *, settings: Settings, counts: bool = True) -> MaintenanceState:
    row = await _switch(session)
    switched = row is not None and row.enabled
    source = "setting" if settings.maintenance else "switch" if switched else "off"
    queued = running = 0
    if counts:
        by_status = dict(
            (
                await session.execute(
                    select(Run.status, func.count())
                    .where(Run.status.in_(("queued", "running")))
                    .group_by(Run.status)
                )
            ).all()
        )
        queued, running = by_status.get("queued", 0), by_status.get("running", 0)
    return MaintenanceState(
        enabled=source != "off",
        source=source,
        reason=(row.reason if row is not None and row.reason else None) or DEFAULT_REASON,
        retry_after_s=(row.retry_after_s if row is not None and row.retry_after_s else None)
        or settings.maintenance_retry_after_s,
        changed_at=runs_repo.aware(row.changed_at) if row is not None and row.changed_at else None,
        changed_by=row.changed_by if row is not None else None,
        queued_runs=queued,
        running_runs=running,
    )


async def refuse_new_runs(session: AsyncSession, *, settings: Settings) -> None:
    """Raise ``UnderMaintenance`` (503 with Retry-After and the reason) while maintenance is on."""
    if await is_on(session, settings=settings):
        raise UnderMaintenance(await state(session, settings=settings, counts=False))


async def change(
    session: AsyncSession, *, body: MaintenanceChange, by: str, settings: Settings
) -> MaintenanceState:
    row = await _switch(session, lock=True)
    if row is None:
        row = MaintenanceSwitch(id=1)
        session.add(row)
    row.enabled = body.enabled
    row.reason = body.reason if body.enabled else None
    row.retry_after_s = body.retry_after_s if body.enabled else None
    row.changed_at = runs_repo.now()
    row.changed_by = by
    await session.flush()
    return await state(session, settings=settings)
