"""Settling and recovery without worker processes, on SQLite and Postgres: a run ends exactly once,
an error while settling never drops it, a restart recovers only what this instance left behind, and
an expired lease is taken over by any instance."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from common.contracts import ModelCard
from sqlalchemy import func, select
from trainer.executors.base import Finished
from trainer.runs import repository as repo
from trainer.runs.models import RunAttempt

from tests.queue.world import MODEL_KEY, open_world


@pytest.fixture
async def world(database_url, tmp_path):
    async with open_world(database_url, tmp_path) as world:
        yield world


async def claimed(world, *, instance_id: str, lease_s: float = 30.0) -> tuple[str, str]:
    """A run claimed by ``instance_id`` (its process is imaginary): (run id, the attempt's token)."""
    (run_id,) = await world.add_runs(1)
    async with world.maker() as session:
        claim = await repo.claim_next_run(
            session, executor="local", instance_id=instance_id, lease_s=lease_s, token_ttl_s=3600
        )
        await session.commit()
    assert claim.run.id == run_id
    return run_id, claim.token


def write_model(world, run_id: str) -> None:
    card = ModelCard(
        classes=["a", "b"],
        input_size=16,
        mean=[0.5] * 3,
        std=[0.5] * 3,
        resize=18,
        backbone="tiny",
        mode="quick",
        val_accuracy=0.9,
        created_at=datetime.now(UTC),
        run_id=run_id,
        dataset_id="d1",
    )
    world.store.put_bytes(f"runs/{run_id}/model.onnx", world.store.get_bytes(MODEL_KEY))
    world.store.put_bytes(f"runs/{run_id}/model_card.json", card.model_dump_json().encode())


class FlakyStore:
    """The world's store, whose ``exists`` fails ``failures`` times (a store outage while settling)."""

    def __init__(self, store, failures: int) -> None:
        self._store, self.failures = store, failures

    def exists(self, key: str) -> bool:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("store unreachable")
        return self._store.exists(key)

    def __getattr__(self, name):
        return getattr(self._store, name)


async def test_a_store_error_while_settling_keeps_the_run_and_the_next_tick_settles_it(world):
    dispatcher = world.dispatcher(instance_id="a")
    run_id, _ = await claimed(world, instance_id="a")
    write_model(world, run_id)
    dispatcher.store = FlakyStore(world.store, failures=1)
    dispatcher._unsettled[(run_id, 1)] = Finished(run_id, 1, 0, "exit code 0")

    await dispatcher.tick()
    assert (await world.run(run_id)).status == "running"
    assert (run_id, 1) in dispatcher._unsettled

    await dispatcher.tick()
    after = await world.run(run_id)
    assert (after.status, after.val_accuracy) == ("succeeded", 0.9)
    assert dispatcher._unsettled == {}


async def test_restart_requeues_what_this_instance_left_running_and_leaves_other_instances_alone(world):
    mine, _ = await claimed(world, instance_id="a")
    theirs, _ = await claimed(world, instance_id="b")
    await world.dispatcher(instance_id="a").recover()
    assert (await world.run(mine)).status == "queued"
    assert (await world.run(mine)).progress["requeued_after"] == "the trainer restarted during the attempt"
    assert (await world.run(theirs)).status == "running"


async def test_restart_finishes_a_run_that_stored_its_model(world):
    run_id, _ = await claimed(world, instance_id="a")
    write_model(world, run_id)
    await world.dispatcher(instance_id="a").recover()
    after = await world.run(run_id)
    assert (after.status, after.val_accuracy) == ("succeeded", 0.9)
    registered = await world.inference.call("GET", f"/models/{after.model_id}", owner="alice")
    assert registered.json()["run_id"] == run_id


async def test_a_run_out_of_attempts_fails_with_an_actionable_reason(world):
    run_id, _ = await claimed(world, instance_id="a")
    await world.dispatcher(instance_id="a", max_attempts=1).recover()
    after = await world.run(run_id)
    assert after.status == "failed"
    assert "all 1 attempts" in after.error and "retry the run" in after.error


async def test_an_expired_lease_is_requeued_exactly_once_by_racing_instances(world):
    run_id, _ = await claimed(world, instance_id="gone", lease_s=0.01)
    await asyncio.sleep(0.05)
    others = [world.dispatcher(instance_id=f"i{i}") for i in range(4)]
    await asyncio.gather(*(d._reap_expired_leases() for d in others))
    after = await world.run(run_id)
    assert (after.status, after.attempts) == ("queued", 1)
    assert "lease expired" in after.progress["requeued_after"]
    async with world.maker() as session:
        attempt = await repo.get_attempt(session, run_id=run_id, attempt=1)
    assert attempt.ended_at is not None and "lease expired" in attempt.outcome


async def test_a_live_lease_is_not_reaped(world):
    run_id, _ = await claimed(world, instance_id="elsewhere", lease_s=30)
    await world.dispatcher(instance_id="a")._reap_expired_leases()
    assert (await world.run(run_id)).status == "running"


async def test_settling_twice_ends_the_run_once(world):
    run_id, _ = await claimed(world, instance_id="a")
    write_model(world, run_id)
    a, b = world.dispatcher(instance_id="a"), world.dispatcher(instance_id="b")
    for d in (a, b):
        d._unsettled[(run_id, 1)] = Finished(run_id, 1, 0, "exit code 0")
    await asyncio.gather(a._settle_pending(), b._settle_pending())
    after = await world.run(run_id)
    assert after.status == "succeeded"
    async with world.maker() as session:
        ended = await session.execute(
            select(func.count()).select_from(RunAttempt).where(RunAttempt.ended_at.is_not(None))
        )
    assert ended.scalar_one() == 1
    models = await world.inference.call("GET", "/models", owner="alice")
    assert models.json()["total"] == 1


async def test_a_lease_is_renewed_by_the_attempts_events(world, monkeypatch):
    import httpx

    run_id, token = await claimed(world, instance_id="a", lease_s=1)
    before = (await world.run(run_id)).lease_expires_at
    async with httpx.AsyncClient(base_url=world.trainer_url) as http:
        answer = await http.post(
            f"/internal/runs/{run_id}/events",
            json={"type": "heartbeat"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 204, answer.text
    after = (await world.run(run_id)).lease_expires_at
    assert repo.aware(after) > repo.aware(before) + timedelta(seconds=1)
