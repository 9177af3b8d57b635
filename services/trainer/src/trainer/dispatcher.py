"""Claims queued runs, launches them on the executor, and settles them when their attempt ends.

The database is the queue: a run is 'queued' until claimed, 'running' while an attempt owns it. A claim
takes a lease that the worker's events renew; a run whose lease runs out is settled by whichever trainer
instance sees it first, so a vanished worker or trainer loses no run. Every settle is a compare-and-set
on the run's attempt: a run ends exactly once, and an attempt that failed to settle (the store or the
database briefly down) stays pending and is settled on a later tick.
"""

from __future__ import annotations

import asyncio
import logging

from common.clients import InferenceClient
from common.contracts import TrainingSpec
from common.store import ObjectStore
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trainer.admin import maintenance
from trainer.executors.base import Executor, Finished, Launch
from trainer.runs import repository as repo
from trainer.runs import service
from trainer.runs.changes import RunChanges
from trainer.runs.models import Run
from trainer.settings import Settings

log = logging.getLogger(__name__)

# Most runs one claim takes (an executor with many free slots claims them in a few transactions).
CLAIM_BATCH = 32


class RunDispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: ObjectStore,
        executor: Executor,
        inference: InferenceClient,
        ready: asyncio.Event | None = None,
        changes: RunChanges | None = None,
    ) -> None:
        """``ready``: launch nothing until it is set (the trainer's backbone preparation at start).
        ``changes``: told of every run this dispatcher changed, once committed (its event streams)."""
        self.settings = settings
        self.ready = ready
        self.changes = changes or RunChanges()
        self.instance_id = settings.instance_id
        self.sessionmaker = sessionmaker
        self.store = store
        self.executor = executor
        self.inference = inference
        self._unsettled: dict[tuple[str, int], Finished] = {}
        self._wake = asyncio.Event()
        executor.on_attempt_end(self.wake)

    def wake(self) -> None:
        """Tick now rather than at the next interval (a run was just queued here, an attempt ended)."""
        self._wake.set()

    async def _sleep(self) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=self.settings.dispatch_interval_s)
        except TimeoutError:
            pass
        self._wake.clear()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.recover()
                break
            except Exception:  # noqa: BLE001 - the database may not be up yet; recovery is retried
                log.exception("recovering runs of instance %s failed; retrying", self.instance_id)
                await asyncio.sleep(self.settings.dispatch_interval_s)
        while True:
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - one bad tick must not stop the queue; it is logged and retried
                log.exception("dispatcher tick failed")
            await self._sleep()

    async def recover(self) -> None:
        """At start: runs an earlier instance with this instance's id left running are adopted (the
        executor still sees the attempt) or settled now. Other instances' runs are theirs while their
        lease lasts; the lease reaper takes them over when it runs out."""
        async with self.sessionmaker() as session:
            mine = await repo.runs_in_status(
                session, status="running", executor=self.executor.name, instance_id=self.instance_id
            )
        for run in mine:
            if await self.executor.adopt(run.id, run.attempts, run.executor_ref):
                log.info("adopted run %s attempt %d", run.id, run.attempts)
                continue
            finished = Finished(run.id, run.attempts, None, "the trainer restarted during the attempt")
            self._unsettled[(run.id, run.attempts)] = finished
        await self._settle_pending()

    async def tick(self) -> None:
        for finished in await self.executor.poll():
            self._unsettled[(finished.run_id, finished.attempt)] = finished
        await self._settle_pending()
        await self._reap_expired_leases()
        await self._stop_superseded()
        await self._launch_queued()

    async def _settle_pending(self) -> None:
        for key, finished in list(self._unsettled.items()):
            try:
                async with self.sessionmaker() as session:
                    run = await repo.get_run(session, run_id=finished.run_id)
                    if run is None:  # deleted meanwhile: nothing of it stays here either
                        await self.executor.forget(finished.run_id)
                    else:
                        await self._settle(session, run, finished)
                    await session.commit()
            except Exception:  # noqa: BLE001 - whatever failed, the attempt stays pending for the next tick
                log.exception("could not settle run %s attempt %d yet", finished.run_id, finished.attempt)
                continue
            del self._unsettled[key]
            self.changes.changed(finished.run_id)

    async def _reap_expired_leases(self) -> None:
        """Runs whose worker stopped reporting, whoever launched them: stop what is left of the attempt
        (it would be refused anyway) and settle it, so the run is requeued or ended exactly once."""
        async with self.sessionmaker() as session:
            expired = await repo.expired_leases(session)
        for run_id in expired:
            try:
                async with self.sessionmaker() as session:
                    run = await repo.lock_expired(session, run_id=run_id)
                    if run is None:
                        continue
                    attempt = run.attempts
                    log.warning("run %s attempt %d: lease expired (%s)", run.id, attempt, run.instance_id)
                    if run.executor == self.executor.name and (
                        run.instance_id == self.instance_id or self.executor.cancels_across_instances
                    ):
                        await self.executor.cancel(run.id, attempt, run.executor_ref)
                    reason = f"its worker stopped reporting for {self.settings.lease_s:g} s (lease expired)"
                    await self._settle(session, run, Finished(run.id, attempt, None, reason))
                    await session.commit()
            except Exception:  # noqa: BLE001 - the lease stays expired, so the next tick tries again
                log.exception("could not settle run %s after its lease expired", run_id)
                continue
            self._unsettled = {k: v for k, v in self._unsettled.items() if k[0] != run_id}
            self.changes.changed(run_id)

    async def _stop_superseded(self) -> None:
        """Stop attempts this instance runs that are no longer their run's current one (cancelled,
        requeued by a lease reaper, deleted)."""
        tracked = self.executor.tracked()
        if not tracked:
            return
        async with self.sessionmaker() as session:
            for run_id, attempt in tracked.items():
                run = await repo.get_run(session, run_id=run_id)
                if run is None or run.status != "running" or run.attempts != attempt:
                    await self.executor.cancel(run_id, attempt, None)

    async def _launch_queued(self) -> None:
        """Claim and launch queued runs while slots are free; none during maintenance nor while the default
        backbone is being prepared (queued runs wait)."""
        if self.executor.free_slots() <= 0:
            return
        if self.ready is not None and not self.ready.is_set():
            return  # seconds, once per store: set (and a wake-up) when the preparation is over
        async with self.sessionmaker() as session:
            if await maintenance.is_on(session, settings=self.settings):
                return
        while (slots := self.executor.free_slots()) > 0:
            async with self.sessionmaker() as session:
                # As many runs as there are free slots in one claim (one transaction), not one by one.
                claims = await repo.claim_runs(
                    session,
                    limit=min(slots, CLAIM_BATCH),
                    executor=self.executor.name,
                    instance_id=self.instance_id,
                    lease_s=self.settings.lease_s,
                    token_ttl_s=self.settings.run_deadline_s,
                )
                if not claims:
                    return
                await session.commit()
                for claim in claims:
                    self.changes.changed(claim.run.id)
                for claim in claims:
                    run = claim.run
                    launch = Launch(spec=self.spec_for(run), attempt=run.attempts, token=claim.token)
                    try:
                        ref = await self.executor.launch(launch)
                    except Exception as e:  # noqa: BLE001 - any launch failure ends this attempt, with its reason
                        log.exception("run %s attempt %d could not start", run.id, run.attempts)
                        finished = Finished(run.id, run.attempts, None, f"could not start the attempt: {e}")
                        self._unsettled[(run.id, run.attempts)] = finished
                        continue
                    run.executor_ref = ref
                    claim.attempt.executor_ref = ref
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
            report_url=f"{base}/internal/runs/{run.id}/events",
            objects_url=f"{base}/internal/runs/{run.id}/objects",
            attempt=run.attempts,
            instance_id=self.instance_id,
            heartbeat_s=self.settings.heartbeat_s,
        )

    async def _settle(self, session: AsyncSession, run: Run, finished: Finished) -> None:
        """The attempt is over: decide how the run goes on. A no-op unless it is still the run's
        current, running attempt (someone else settled or cancelled it)."""
        attempt = finished.attempt
        if run.status != "running" or run.attempts != attempt:
            return
        if await service.model_card_exists(run, store=self.store):
            await service.settle_succeeded(
                session, run, attempt=attempt, store=self.store, inference=self.inference
            )
        elif run.error:
            await repo.transition(session, run_id=run.id, attempt=attempt, status="failed", error=run.error)
        elif finished.returncode == 0:
            error = "training ended without writing a model; retry the run, and report it if it happens again"
            await repo.transition(session, run_id=run.id, attempt=attempt, status="failed", error=error)
        elif run.attempts < self.settings.max_attempts:
            log.warning("run %s attempt %d ended (%s); requeued", run.id, attempt, finished.reason)
            progress = {**run.progress, "requeued_after": finished.reason}
            await repo.transition(
                session,
                run_id=run.id,
                attempt=attempt,
                status="queued",
                outcome=finished.reason,
                progress=progress,
            )
        else:
            tail = f"; last output:\n{finished.log_tail}" if finished.log_tail else ""
            error = (
                f"the training process stopped on all {run.attempts} attempts (last: {finished.reason}); "
                f"retry the run, and report it if it fails again{tail}"
            )
            await repo.transition(session, run_id=run.id, attempt=attempt, status="failed", error=error)
