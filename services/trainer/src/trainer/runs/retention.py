"""The retention sweeper: finished runs past their time-to-live are removed with everything derived from
them (``service.purge_run``: the model's registration and tokens, checkpoints, artifacts, model files,
the executor's work dir or Jobs, the row). Off by default; ``run_ttl_days`` covers runs without a model
(failed, cancelled), and ``model_ttl_days`` runs whose model is served. Every trainer replica sweeps; a
run is locked (``SKIP LOCKED``) while one removes it, so two replicas never work on the same run, and a
sweep interrupted midway leaves the row for the next one."""

from __future__ import annotations

import asyncio
import logging

from common.clients import InferenceClient
from common.store import ObjectStore
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trainer.executors.base import Executor
from trainer.runs import repository as repo
from trainer.runs import service
from trainer.settings import Settings

log = logging.getLogger(__name__)

DAY_S = 24 * 3600.0


class RetentionSweeper:
    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: ObjectStore,
        inference: InferenceClient,
        executor: Executor,
    ) -> None:
        self.settings = settings
        self.executor = executor
        self.sessionmaker = sessionmaker
        self.store = store
        self.inference = inference

    @property
    def enabled(self) -> bool:
        return self.settings.run_ttl_days > 0 or self.settings.model_ttl_days > 0

    async def sweep_once(self, *, batch: int = 50) -> int:
        """Remove up to ``batch`` expired runs; how many this call removed."""
        async with self.sessionmaker() as session:
            expired = await repo.expired_runs(
                session,
                run_ttl_s=self.settings.run_ttl_days * DAY_S,
                model_ttl_s=self.settings.model_ttl_days * DAY_S,
                limit=batch,
            )
        removed = 0
        for run_id in expired:
            try:
                async with self.sessionmaker() as session:
                    run = await repo.lock_finished(session, run_id=run_id)
                    if run is None:
                        continue
                    await service.purge_run(
                        session, run, store=self.store, inference=self.inference, executor=self.executor
                    )
                    await session.commit()
            except Exception:  # noqa: BLE001 - the row stays, so the next sweep tries again
                log.exception("could not remove expired run %s yet", run_id)
                continue
            log.info("removed run %s (retention)", run_id)
            removed += 1
        return removed

    async def run_forever(self) -> None:
        while True:
            try:
                while await self.sweep_once() > 0:
                    pass
            except Exception:  # noqa: BLE001 - the database may be down; the next sweep retries
                log.exception("retention sweep failed")
            await asyncio.sleep(self.settings.retention_interval_s)
