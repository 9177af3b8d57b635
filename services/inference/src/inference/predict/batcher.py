"""Cross-request batching: concurrent requests for one model share one ONNX Runtime call.

A request's ``Feeds`` wait in its model's queue. The model's drain task takes the oldest request and
runs it at once unless other requests for the model are still being prepared (``expect()``: admitted,
their input being decoded or tokenized): then it waits for them, at most ``max_wait_s`` from the
oldest's arrival (less when the batch fills). It joins up to ``max_rows`` rows with ``collate`` and
runs them on the shared model-run executor, or on the event loop when ``inline(rows)`` says the run is
cheaper than a thread hand-off. While a run is busy, newer requests gather for the next one, so under
load batches form with no added wait, and a lone request is never held back to wait for company.
A request larger than ``max_rows`` runs alone.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from inference.predict.feeds import Feeds, collate, rows

# Feeds of a whole batch -> (rows, classes) output, blocking.
RunBatch = Callable[[Feeds], np.ndarray]
# Called after each run with (rows in the batch, seconds the run took).
OnBatch = Callable[[int, float], None]
# rows of a batch about to run -> whether to run it on the event loop instead of the executor.
Inline = Callable[[int], bool]


@dataclass
class _Waiting:
    feeds: Feeds
    rows: int
    future: asyncio.Future[np.ndarray]
    arrived: float = field(default_factory=time.monotonic)


class Batcher:
    """One per loaded model. Needs a running event loop; holds no task while its queue is empty."""

    def __init__(
        self,
        *,
        run: RunBatch,
        executor: Executor,
        max_rows: int,
        max_wait_s: float,
        on_batch: OnBatch | None = None,
        pad_values: Mapping[str, float] | None = None,
        inline: Inline | None = None,
    ) -> None:
        self._run = run
        self._inline = inline or (lambda rows: False)
        self._preparing = 0
        self._pad_values = dict(pad_values or {})
        self._executor = executor
        self._max_rows = max_rows
        self._max_wait_s = max_wait_s
        self._on_batch = on_batch or (lambda rows, seconds: None)
        self._queue: deque[_Waiting] = deque()
        self._arrival = asyncio.Event()
        self._drain_task: asyncio.Task[None] | None = None

    @property
    def queued(self) -> int:
        """Requests waiting for a run (not counting the run in progress)."""
        return len(self._queue)

    @contextmanager
    def expect(self) -> Iterator[None]:
        """Announce a request whose feeds are being prepared, so a batch about to run waits for it
        (at most ``max_wait_s``); a request that fails while preparing stops being waited for."""
        self._preparing += 1
        try:
            yield
        finally:
            self._preparing -= 1
            self._arrival.set()

    async def submit(self, feeds: Feeds) -> np.ndarray:
        """This request's rows of the model's output. Raises what the run raised."""
        waiting = _Waiting(feeds, rows(feeds), asyncio.get_running_loop().create_future())
        self._queue.append(waiting)
        self._arrival.set()
        if self._drain_task is None or self._drain_task.done():
            self._drain_task = asyncio.create_task(self._drain())
        return await waiting.future

    async def _drain(self) -> None:
        while self._queue:
            await self._gather()
            batch = self._take()
            if batch:
                await self._run_batch(batch)

    async def _gather(self) -> None:
        """Wait while requests are being prepared, until the queue holds a full batch or the oldest
        request has waited ``max_wait_s``."""
        deadline = self._queue[0].arrived + self._max_wait_s
        while self._preparing and sum(w.rows for w in self._queue) < self._max_rows:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._arrival.clear()
            try:
                await asyncio.wait_for(self._arrival.wait(), remaining)
            except TimeoutError:
                return

    def _take(self) -> list[_Waiting]:
        """Oldest first, up to ``max_rows`` rows (at least one request); requests whose caller went
        away are dropped."""
        batch: list[_Waiting] = []
        total = 0
        while self._queue:
            head = self._queue[0]
            if head.future.done():  # cancelled: the client disconnected
                self._queue.popleft()
                continue
            if batch and total + head.rows > self._max_rows:
                break
            batch.append(self._queue.popleft())
            total += head.rows
        return batch

    async def _run_batch(self, batch: list[_Waiting]) -> None:
        loop = asyncio.get_running_loop()
        try:
            feeds = collate([w.feeds for w in batch], pad_values=self._pad_values)
            total = sum(w.rows for w in batch)
            start = time.perf_counter()
            if self._inline(total):
                output = self._run(feeds)
            else:
                output = await loop.run_in_executor(self._executor, self._run, feeds)
            self._on_batch(total, time.perf_counter() - start)
        except Exception as e:  # the run's error belongs to every request in it
            for w in batch:
                if not w.future.done():
                    w.future.set_exception(e)
            return
        offset = 0
        for w in batch:
            if not w.future.done():
                w.future.set_result(output[offset : offset + w.rows])
            offset += w.rows
