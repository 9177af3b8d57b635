"""The local executor keeps one warm worker while it is idle and hands it the next attempt
(``executors/local.py``): the attempt runs in that process, its output goes to the attempt's log (so a
restarted trainer still recognises it as the run's), and a new warm worker is started only once
nothing runs. Real worker processes (the tiny worker speaks the same handoff)."""

from __future__ import annotations

import asyncio
import os

import pytest
from trainer.executors.local import process_is_training

from tests.queue.world import open_world


@pytest.fixture
async def world(tmp_path):
    async with open_world(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}", tmp_path) as world:
        yield world


async def test_the_next_attempt_runs_in_the_warm_worker_and_a_new_one_waits_after_it(world):
    dispatcher = world.dispatcher(local_warm_worker=True, dispatch_interval_s=0.1)
    executor = dispatcher.executor
    await dispatcher.tick()  # idle: a warm worker is started
    warm = executor._warm
    assert warm is not None and warm.returncode is None

    (run_id,) = await world.add_runs(1, epochs=2, epoch_s=0.5)
    await dispatcher.tick()
    assert executor.pid_of(run_id) == warm.pid  # handed over, not a new process
    assert executor._warm is None  # and no other one beside the running attempt
    for _ in range(100):  # until it has read the handoff (a loaded machine starts it slowly)
        if process_is_training(warm.pid, run_id):
            break
        await asyncio.sleep(0.1)
    assert process_is_training(warm.pid, run_id)  # its output is the run's attempt log
    assert os.readlink(f"/proc/{warm.pid}/fd/1") == str(executor.log_path(run_id, 1))

    for _ in range(300):
        await dispatcher.tick()
        if (run := await world.run(run_id)).status != "running":
            break
        await asyncio.sleep(0.1)
    assert run.status == "succeeded" and run.attempts == 1
    assert run.executor_ref == str(warm.pid)
    await dispatcher.tick()
    assert executor._warm is not None and executor._warm.pid != warm.pid  # idle again: a new one

    replacement = executor._warm
    await executor.shutdown()
    assert replacement.returncode is not None  # it goes with the trainer


async def test_without_a_warm_worker_an_attempt_starts_its_own_process(world):
    dispatcher = world.dispatcher(local_warm_worker=False)
    await dispatcher.tick()
    assert dispatcher.executor._warm is None
    (run_id,) = await world.add_runs(1, epochs=1)
    await dispatcher.tick()
    assert dispatcher.executor.pid_of(run_id) is not None
