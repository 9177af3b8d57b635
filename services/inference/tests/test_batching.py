"""The batcher and ``collate`` on their own: how requests are grouped, padded, split and failed."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from inference.predict.batcher import Batcher
from inference.predict.feeds import collate


@pytest.mark.parametrize(
    ("requests", "expected"),
    [
        pytest.param(
            [{"x": np.ones((1, 3))}, {"x": np.zeros((2, 3))}], [[1, 1, 1], [0, 0, 0], [0, 0, 0]], id="concat"
        ),
        pytest.param(
            [{"x": np.array([[7, 8, 9]])}, {"x": np.array([[5]])}],
            [[7, 8, 9], [5, 0, 0]],
            id="pad-shorter-rows",
        ),
        pytest.param([{"x": np.array([[4, 2]])}], [[4, 2]], id="alone"),
    ],
)
def test_collate_concatenates_rows_in_order_and_pads_shorter_sequences_with_zeros(requests, expected):
    assert collate(requests)["x"].tolist() == expected


def test_collate_pads_with_the_value_named_for_each_input():
    feeds = collate([{"ids": np.array([[5]])}, {"ids": np.array([[6, 7]])}], pad_values={"ids": 1})
    assert feeds["ids"].tolist() == [[5, 1], [6, 7]]


def test_collate_keeps_every_input_aligned():
    feeds = collate(
        [
            {"ids": np.array([[1, 2]]), "mask": np.array([[1, 1]])},
            {"ids": np.array([[3, 4, 5]]), "mask": np.array([[1, 1, 1]])},
        ]
    )
    assert feeds["ids"].tolist() == [[1, 2, 0], [3, 4, 5]]
    assert feeds["mask"].tolist() == [[1, 1, 0], [1, 1, 1]]


class Recorder:
    """A model run that doubles its input and records each batch's rows."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[int] = []
        self.fail = fail

    def __call__(self, feeds):
        self.batches.append(feeds["x"].shape[0])
        if self.fail:
            raise RuntimeError("graph failed")
        return feeds["x"] * 2


@pytest.fixture
def executor():
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


async def test_waiting_requests_fill_batches_up_to_max_rows_in_arrival_order(executor):
    run = Recorder()
    batcher = Batcher(run=run, executor=executor, max_rows=4, max_wait_s=0.05)
    results = await asyncio.gather(*(batcher.submit({"x": np.full((1, 1), i)}) for i in range(10)))
    assert [r.item() for r in results] == [2 * i for i in range(10)]
    assert run.batches == [4, 4, 2]


async def test_a_request_larger_than_max_rows_runs_alone(executor):
    run = Recorder()
    batcher = Batcher(run=run, executor=executor, max_rows=4, max_wait_s=0.05)
    small, big = await asyncio.gather(
        batcher.submit({"x": np.ones((1, 1))}), batcher.submit({"x": np.ones((6, 1))})
    )
    assert (small.shape, big.shape) == ((1, 1), (6, 1))
    assert run.batches == [1, 6]


async def test_a_failed_run_fails_every_request_in_it_and_the_batcher_carries_on(executor):
    run = Recorder(fail=True)
    batcher = Batcher(run=run, executor=executor, max_rows=8, max_wait_s=0.01)
    outcomes = await asyncio.gather(
        *(batcher.submit({"x": np.ones((1, 1))}) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    run.fail = False
    assert (await batcher.submit({"x": np.ones((1, 1))})).item() == 2


async def test_a_lone_request_runs_at_once_not_after_the_batch_wait(executor):
    run = Recorder()
    batcher = Batcher(run=run, executor=executor, max_rows=8, max_wait_s=30.0)
    result = await asyncio.wait_for(batcher.submit({"x": np.ones((1, 1))}), timeout=5.0)
    assert result.item() == 2
    assert run.batches == [1]


async def test_a_batch_waits_for_a_request_still_being_prepared_and_shares_its_run(executor):
    run = Recorder()
    batcher = Batcher(run=run, executor=executor, max_rows=8, max_wait_s=30.0)
    with batcher.expect():
        first = asyncio.create_task(batcher.submit({"x": np.ones((1, 1))}))
        await asyncio.sleep(0.05)
        assert not first.done()  # held for the request being prepared
    second = await asyncio.wait_for(batcher.submit({"x": np.full((1, 1), 3)}), timeout=5.0)
    assert ((await first).item(), second.item()) == (2, 6)
    assert run.batches == [2]


async def test_a_request_that_fails_while_being_prepared_is_no_longer_waited_for(executor):
    run = Recorder()
    batcher = Batcher(run=run, executor=executor, max_rows=8, max_wait_s=30.0)
    with pytest.raises(ValueError), batcher.expect():
        first = asyncio.create_task(batcher.submit({"x": np.ones((1, 1))}))
        await asyncio.sleep(0.05)
        raise ValueError("undecodable image")
    assert (await asyncio.wait_for(first, timeout=5.0)).item() == 2
    assert run.batches == [1]


@pytest.mark.parametrize(("inline", "on_loop"), [(True, True), (False, False)])
async def test_a_batch_runs_on_the_event_loop_only_when_inline_says_so(executor, inline, on_loop):
    threads: list[int] = []

    def run(feeds):
        threads.append(threading.get_ident())
        return feeds["x"]

    batcher = Batcher(run=run, executor=executor, max_rows=8, max_wait_s=0.0, inline=lambda rows: inline)
    await batcher.submit({"x": np.ones((1, 1))})
    assert (threads == [threading.get_ident()]) is on_loop
