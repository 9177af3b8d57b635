"""Claims queued runs, launches them on the executor, and settles them when their process ends.

The database is the queue: a run is 'queued' until claimed, 'running' while a process owns it.
A process that ends without a final event is settled from what it stored; a crash is retried.
On start-up, runs left 'running' by an earlier instance are settled or requeued, so none is lost.
"""

from __future__ import annotations

import asyncio
import logging

from common.clients import InferenceClient
from common.contracts import TrainingSpec
from common.errors import AppError
from common.store import ObjectStore
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trainer.executors.local import Finished, LocalExecutor
from trainer.runs import repository as repo
from trainer.runs import service
from trainer.runs.models import Run
from trainer.settings import Settings

log = logging.getLogger(__name__)


class RunDispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: ObjectStore,
        executor: LocalExecutor,
        inference: InferenceClient,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.store = store
        self.executor = executor
        self.inference = inference
        self._unsettled: list[Finished] = []

    async def run_forever(self) -> None:
        await self.recover()
        while True:
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - one bad tick must not stop the queue; it is logged and retried
                log.exception("dispatcher tick failed")
            await asyncio.sleep(self.settings.dispatch_interval_s)

    async def recover(self) -> None:
        async with self.sessionmaker() as session:
            for run in await repo.runs_in_status(session, status="running", executor=self.executor.name):
                self.executor.kill_orphan(run.id, run.executor_ref)
                await self._settle(
                    session, run, returncode=None, log_tail="the trainer restarted during the run"
                )
            await session.commit()

    async def tick(self) -> None:
        self._unsettled.extend(self.executor.collect_finished())
        pending, self._unsettled = self._unsettled, []
        for finished in pending:
            async with self.sessionmaker() as session:
                run = await repo.get_run(session, run_id=finished.run_id)
                if run is None or run.status != "running" or run.attempts != finished.attempt:
                    continue
                try:
                    await self._settle(
                        session,
                        run,
                        returncode=finished.returncode,
                        log_tail=self.executor.log_tail(finished.log_path),
                    )
                    await session.commit()
                except AppError as e:
                    log.warning("could not settle run %s yet: %s", run.id, e.message)
                    self._unsettled.append(finished)
        await self._stop_cancelled()
        await self._launch_queued()

    async def _stop_cancelled(self) -> None:
        ids = self.executor.running_ids()
        if not ids:
            return
        async with self.sessionmaker() as session:
            for run_id in ids:
                run = await repo.get_run(session, run_id=run_id)
                if run is None or run.status == "cancelled":
                    await self.executor.stop(run_id)

    async def _launch_queued(self) -> None:
        while self.executor.free_slots() > 0:
            async with self.sessionmaker() as session:
                run = await repo.claim_next_run(session, executor=self.executor.name)
                if run is None:
                    return
                await session.commit()
                spec = self.spec_for(run)
                try:
                    run.executor_ref = await self.executor.launch(spec, attempt=run.attempts)
                except OSError as e:
                    repo.finish(run, status="failed", error=f"could not start the training process: {e}")
                await session.commit()

    def spec_for(self, run: Run) -> TrainingSpec:
        base = self.settings.trainer_url.rstrip("/")
        return TrainingSpec(
            run_id=run.id,
            owner=run.owner,
            dataset_id=run.dataset_id,
            manifest_key=run.manifest_key,
            output_prefix=run.artifacts_prefix,
            config=run.config,
            report_url=f"{base}/internal/runs/{run.id}/events?attempt={run.attempts}",
        )

    async def _settle(
        self, session: AsyncSession, run: Run, *, returncode: int | None, log_tail: str
    ) -> None:
        """The run's process is gone and the run is still 'running': decide how it ended."""
        if await service.model_card_exists(run, store=self.store):
            await service.finish_succeeded(run, store=self.store, inference=self.inference)
            return
        if returncode == 0:
            repo.finish(run, status="failed", error="training ended without writing a model")
        elif run.attempts < self.settings.max_attempts:
            log.warning("run %s attempt %d ended (%s); requeued", run.id, run.attempts, returncode)
            run.status = "queued"
            run.progress = {
                **run.progress,
                "requeued_after": returncode if returncode is not None else "restart",
            }
        else:
            reason = f"exit code {returncode}" if returncode is not None else "restart"
            repo.finish(
                run,
                status="failed",
                error=(
                    f"the training process stopped ({reason}) on all {run.attempts} attempts; "
                    f"last output:\n{log_tail}"
                ),
            )
