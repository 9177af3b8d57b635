"""The queue under stress on Postgres, with real worker processes (``trainer.testing.tiny_worker``,
which speaks the real worker protocol and checkpoints every epoch) and several trainer instances."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import pytest
from sqlalchemy import func, select
from trainer.runs.models import RunAttempt

from tests.queue.world import open_world, ticking

pytestmark = pytest.mark.timeout(300)

# `make test` runs a scaled-down stress (the suite's time budget on 2 shared cores);
# `make test-stress` runs the full 8 x 200 runs and 20 kills (see BENCHMARKS.md for its record).
STRESS_RUNS = int(os.environ.get("TRAINYARD_STRESS_RUNS", "40"))
STRESS_KILLS = int(os.environ.get("TRAINYARD_STRESS_KILLS", "8"))


@pytest.fixture
async def world(postgres_url, tmp_path):
    async with open_world(postgres_url, tmp_path) as world:
        yield world


async def attempts_of(world, run_id: str) -> list[RunAttempt]:
    async with world.maker() as session:
        rows = await session.execute(
            select(RunAttempt).where(RunAttempt.run_id == run_id).order_by(RunAttempt.attempt)
        )
        return list(rows.scalars())


def done(run) -> bool:
    return run.status in ("succeeded", "failed", "cancelled")


async def test_eight_dispatchers_share_the_queue_without_a_double_claim(world):
    run_ids = await world.add_runs(STRESS_RUNS, epochs=1)
    # A lease long enough that a loaded machine's late heartbeats cannot expire one: what this test
    # checks is the claim (one launch per run), not lease expiry (tested below with short leases).
    dispatchers = [world.dispatcher(instance_id=f"d{i}", local_workers=3, lease_s=30) for i in range(8)]
    async with ticking(*dispatchers):
        runs = await world.wait(run_ids, done, within=250, tick=0.5)
    assert {r.status for r in runs} == {"succeeded"}
    assert {r.attempts for r in runs} == {1}
    async with world.maker() as session:
        launches = (await session.execute(select(func.count()).select_from(RunAttempt))).scalar_one()
        instances = (
            await session.execute(select(func.count(func.distinct(RunAttempt.instance_id))))
        ).scalar_one()
    assert launches == STRESS_RUNS
    assert instances > 1
    models = (await world.inference.call("GET", "/models", owner="alice", params={"limit": 1})).json()
    assert models["total"] == STRESS_RUNS


async def test_workers_killed_mid_run_lose_no_run_and_resume_from_their_checkpoint(world):
    epochs = 8
    run_ids = await world.add_runs(4, epochs=epochs, epoch_s=0.25)
    dispatcher = world.dispatcher(instance_id="a", local_workers=4, max_attempts=10)
    kills: dict[str, int] = dict.fromkeys(run_ids, 0)
    async with ticking(dispatcher):
        while sum(kills.values()) < STRESS_KILLS:
            for run_id, attempt in list(dispatcher.executor.tracked().items()):
                run = await world.run(run_id)
                # Only once the attempt has trained an epoch of its own, so each kill costs progress.
                if run.attempts == attempt and run.progress.get("type") == "epoch" and kills[run_id] < 7:
                    pid = dispatcher.executor.pid_of(run_id)
                    if pid and sum(kills.values()) < STRESS_KILLS:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                            kills[run_id] += 1
            await asyncio.sleep(0.1)
            if all([done(await world.run(r)) for r in run_ids]):
                break
        runs = await world.wait(run_ids, done, within=120)
    assert sum(kills.values()) == STRESS_KILLS
    assert {r.status for r in runs} == {"succeeded"}
    for run in runs:
        trained = [h["epoch"] for h in run.metrics["history"]]
        assert sorted(set(trained)) == list(range(1, epochs + 1)), trained
        # Resumed, not restarted: a kill costs at most the epoch in flight, never the ones checkpointed.
        assert len(trained) <= epochs + kills[run.id], (trained, kills[run.id])
        first_epoch = {}  # of each attempt: above 1 for an attempt that resumed from a checkpoint
        for h in run.metrics["history"]:
            first_epoch.setdefault(h["attempt"], h["epoch"])
        assert kills[run.id] == 0 or max(first_epoch.values()) > 1
        attempts = await attempts_of(world, run.id)
        assert [a.attempt for a in attempts] == list(range(1, run.attempts + 1))
        assert sum(1 for a in attempts if a.outcome == "succeeded") == 1


async def test_a_worker_paused_past_its_lease_is_refused_when_it_wakes(world):
    (run_id,) = await world.add_runs(1, epochs=40, epoch_s=0.1)
    first = world.dispatcher(instance_id="a")
    async with ticking(first):
        await world.wait([run_id], lambda r: r.progress.get("type") == "epoch")
    # Instance a hangs (no more ticks); its worker is paused past the lease on another host, say.
    pid = first.executor.pid_of(run_id)
    os.kill(pid, signal.SIGSTOP)
    second = world.dispatcher(instance_id="b")
    try:
        async with ticking(second):
            await world.wait(
                [run_id], lambda r: r.attempts == 2 and r.progress.get("type") == "epoch", within=30
            )
            checkpoint_before = world.store.get_bytes(f"runs/{run_id}/checkpoint.json")
            os.kill(pid, signal.SIGCONT)
            process = first.executor._launched[run_id].process
            code = await asyncio.wait_for(process.wait(), timeout=10)
            run = await world.run(run_id)
            assert code == 75  # told it was superseded, it stopped before writing anything more
            assert run.attempts == 2 and run.progress["attempt"] == 2
            assert world.store.get_bytes(f"runs/{run_id}/checkpoint.json") >= checkpoint_before
            runs = await world.wait([run_id], done, within=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    assert runs[0].status == "succeeded"
    outcomes = [a.outcome for a in await attempts_of(world, run_id)]
    assert "lease expired" in outcomes[0] and outcomes[1] == "succeeded"


async def test_a_killed_trainer_instance_has_its_runs_taken_over_once(world):
    run_ids = await world.add_runs(3, epochs=6, epoch_s=0.2)
    doomed, survivor = (
        world.dispatcher(instance_id="doomed", local_workers=3),
        world.dispatcher(instance_id="b", local_workers=1),
    )
    async with ticking(doomed):
        await world.wait(run_ids, lambda r: r.status == "running" and r.progress.get("type") == "epoch")
    # The instance dies: its loop stops, and its workers, which exit with their trainer, die with it.
    for run_id in run_ids:
        os.kill(doomed.executor.pid_of(run_id), signal.SIGKILL)
    async with ticking(survivor):
        runs = await world.wait(run_ids, done, within=90)
    assert {r.status for r in runs} == {"succeeded"}
    assert {r.attempts for r in runs} == {2}
    for run in runs:
        first, second = await attempts_of(world, run.id)
        assert (first.instance_id, second.instance_id) == ("doomed", "b")
        assert "lease expired" in first.outcome


async def test_a_restarted_instance_recovers_its_own_runs_without_waiting_for_the_lease(world):
    (run_id,) = await world.add_runs(1, epochs=6, epoch_s=0.2)
    before = world.dispatcher(instance_id="a", lease_s=600, heartbeat_s=1)
    async with ticking(before):
        await world.wait([run_id], lambda r: r.progress.get("type") == "epoch")
    os.kill(before.executor.pid_of(run_id), signal.SIGKILL)
    after = world.dispatcher(instance_id="a", lease_s=600, heartbeat_s=1)
    await after.recover()
    run = await world.run(run_id)
    assert (run.status, run.attempts) == ("queued", 1)
    async with ticking(after):
        runs = await world.wait([run_id], done, within=60)
    assert (runs[0].status, runs[0].attempts) == ("succeeded", 2)
