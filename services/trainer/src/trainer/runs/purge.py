"""The one way runs are deleted, with everything derived from them: the run's served model (its tokens
stop working), every object under its prefix (checkpoint, artifacts, model.onnx/.pt, the data-issue
report) and its row. Used by ``DELETE /runs/{id}``, by deleting a data set (``DELETE
/datasets/{id}/runs``, called by the gateway) and by anything that expires runs.

Order, so that no one ever reaches a row whose objects are gone, and a failure midway is finished by
simply calling again (every step is idempotent):

1. hide and stop: a queued run is cancelled, a running one cancelled by compare-and-set on its attempt
   (its worker's token stops working at once, so it can write no more objects), and ``deleted_at`` is
   set; committed, so the run is gone for its owner (404) from here on;
2. per run, ``service.purge_run`` (shared with the retention sweeper): its model in the inference
   service, then its objects, then what its executor kept (work dir, Jobs), then its row; committed per
   run, so a retry picks up where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from common.clients import InferenceClient
from common.store import ObjectStore
from sqlalchemy.ext.asyncio import AsyncSession

from trainer.executors.base import Executor
from trainer.runs import repository as repo
from trainer.runs import service
from trainer.runs.models import Run

log = logging.getLogger(__name__)


async def delete_runs(
    session: AsyncSession,
    *,
    runs: Sequence[Run],
    store: ObjectStore,
    inference: InferenceClient,
    executor: Executor,
    reason: str,
) -> int:
    """Delete ``runs`` and everything derived from them; returns how many rows were removed. Commits."""
    if not runs:
        return 0
    ids = [run.id for run in runs]
    for run in runs:
        await _stop(session, run, reason=reason)
    await repo.mark_deleted(session, run_ids=ids)
    await session.commit()
    removed = 0
    for run_id in ids:
        # Fresh from the database: a dispatcher may have claimed a queued run, or settled a running one
        # (and registered its model), between the read and the commit above.
        run = await repo.get_run(session, run_id=run_id)
        if run is None:
            continue
        if await _stop(session, run, reason=reason):
            await session.commit()
        await service.purge_run(session, run, store=store, inference=inference, executor=executor)
        await session.commit()
        removed += 1
        log.info("deleted run %s (%s)", run_id, reason)
    return removed


async def delete_owned_run(
    session: AsyncSession,
    *,
    owner: str,
    run_id: str,
    store: ObjectStore,
    inference: InferenceClient,
    executor: Executor,
) -> None:
    """``DELETE /runs/{id}``: 404 unless the caller's; then as ``delete_runs``."""
    run = await service.get_owned(session, owner=owner, run_id=run_id)
    await delete_runs(
        session, runs=[run], store=store, inference=inference, executor=executor, reason="deleted by the user"
    )


async def _stop(session: AsyncSession, run: Run, *, reason: str) -> bool:
    if run.status == "queued":
        return await repo.cancel_queued(session, run_id=run.id)
    if run.status == "running":
        return await repo.transition(
            session, run_id=run.id, attempt=run.attempts, status="cancelled", error=reason
        )
    return False


async def delete_dataset_runs(
    session: AsyncSession,
    *,
    owner: str,
    dataset_id: str,
    store: ObjectStore,
    inference: InferenceClient,
    executor: Executor,
) -> int:
    """Every run of ``owner`` on the data set, with their models and objects (the data set's own objects
    and feature cache are the dataset service's to delete)."""
    runs = await repo.runs_of_dataset(session, owner=owner, dataset_id=dataset_id)
    return await delete_runs(
        session,
        runs=runs,
        store=store,
        inference=inference,
        executor=executor,
        reason="its data set was deleted",
    )
