"""The dispatcher acts when something happens, not at its next tick: an attempt that ends is settled at
once (its executor wakes it), and runs queued while the trainer prepares its backbone start as soon as
the preparation is over. The tick interval here is 60 s, so any wait for a tick would time the test out."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from tests.queue.world import open_world

SLOW_TICK = {"dispatch_interval_s": 60.0}


@pytest.fixture
async def world(tmp_path):
    async with open_world(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}", tmp_path) as world:
        yield world


@contextlib.asynccontextmanager
async def running(dispatcher):
    task = asyncio.create_task(dispatcher.run_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_attempt_that_ends_is_settled_at_once_not_at_the_next_tick(world):
    dispatcher = world.dispatcher(**SLOW_TICK)
    (run_id,) = await world.add_runs(1, epochs=1)
    async with running(dispatcher):
        dispatcher.wake()  # what creating a run through the API does
        started = time.monotonic()
        (run,) = await world.wait([run_id], lambda r: r.status == "succeeded", within=20)
    assert run.model_id
    assert time.monotonic() - started < 20  # a worker process start, not a 60 s tick


async def test_runs_queued_during_the_backbone_preparation_start_when_it_is_over(world):
    ready = asyncio.Event()
    dispatcher = world.dispatcher(ready=ready, **SLOW_TICK)
    (run_id,) = await world.add_runs(1, epochs=1)
    async with running(dispatcher):
        for _ in range(3):
            dispatcher.wake()
            await asyncio.sleep(0.2)
        assert (await world.run(run_id)).status == "queued"  # nothing launched while preparing

        ready.set()
        dispatcher.wake()  # what the preparation does when it is over
        (run,) = await world.wait([run_id], lambda r: r.status == "succeeded", within=20)
    assert run.attempts == 1
