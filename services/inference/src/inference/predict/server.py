"""``ModelServer``: loaded sessions, admission, per-model batching and the model-run threads.

The path of a prediction, for any task:

    with server.admission.slot(model_id):                  # or 503 + Retry-After
        loaded = await server.load(model)                   # warm LRU of sessions
        with server.batcher(loaded).expect():               # a batch about to run waits for it
            feeds = await asyncio.to_thread(make_feeds, loaded)  # the task's preprocessing
        probabilities = await server.probabilities(loaded, feeds)  # batched with other requests

Model runs happen on ``model_run_workers`` threads (default 1) shared by every model, each run using
``intra_op_threads`` (default: every core), so concurrent requests never oversubscribe the cores.
A run measured to take less than ``inline_run_ms`` (a small text model's) runs on the event loop when
no other run is in progress: handing it to a thread and back would cost more than the run itself.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

import numpy as np
from common.contracts import ModelCard
from common.store import ObjectStore

from inference.predict.admission import Admission, RowCost
from inference.predict.auth import AuthorizedModel
from inference.predict.batcher import Batcher
from inference.predict.errors import ModelUnavailable
from inference.predict.feeds import Feeds
from inference.predict.metrics import InferenceMetrics
from inference.predict.sessions import LoadedModel, ModelLoadError, OnnxSessionCache, load_model
from inference.predict.tasks import task_for
from inference.settings import Settings

log = logging.getLogger(__name__)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, shifted by the row max so large logits cannot overflow."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def run_model(model: LoadedModel, feeds: Feeds) -> np.ndarray:
    """Blocking: feeds with N rows -> (N, classes) probabilities."""
    rows = next(iter(feeds.values())).shape[0]
    try:
        (logits,) = model.session.run([model.output_name], feeds)
    except Exception as e:  # onnxruntime reports graph failures with its own exception types
        raise ModelUnavailable(
            f"model {model.model_id} failed to run: {e}; re-export and re-register it"
        ) from e
    if logits.ndim != 2 or logits.shape != (rows, len(model.classes)):
        raise ModelUnavailable(
            f"model {model.model_id} returned shape {logits.shape}; expected ({rows}, "
            f"{len(model.classes)}): re-export and re-register it"
        )
    return softmax(logits)


def load_for_task(
    *, store: ObjectStore, intra_op_threads: int | None, model_id: str, onnx_key: str, card: ModelCard
):
    task = task_for(card)
    return load_model(
        store=store,
        model_id=model_id,
        onnx_key=onnx_key,
        card=card,
        intra_op_threads=intra_op_threads,
        check=task.check,
        example_feeds=task.example_feeds,
    )


class RunExecutor(ThreadPoolExecutor):
    """The model-run threads, counting the work submitted and not yet finished."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="model-run")
        self._lock = threading.Lock()
        self._busy = 0

    @property
    def busy(self) -> int:
        return self._busy

    def submit(self, fn, /, *args, **kwargs) -> Future:
        with self._lock:
            self._busy += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished()
            raise
        future.add_done_callback(lambda _: self._finished())
        return future

    def _finished(self) -> None:
        with self._lock:
            self._busy -= 1


class ModelServer:
    def __init__(self, *, store: ObjectStore, settings: Settings, metrics: InferenceMetrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._executor = RunExecutor(settings.model_run_workers)
        self.sessions = OnnxSessionCache(
            capacity=settings.session_cache_size,
            loader=partial(load_for_task, store=store, intra_op_threads=settings.intra_op_threads),
            on_lookup=metrics.model_lookup,
        )
        self.admission = Admission(
            max_in_flight=settings.max_in_flight,
            max_per_model=settings.max_queue_per_model,
            retry_after_s=settings.retry_after_s,
            max_wait_s=settings.max_queue_wait_ms / 1000,
            on_reject=lambda reason: metrics.rejected.labels(reason).inc(),
        )
        self._batchers: dict[str, tuple[LoadedModel, Batcher]] = {}
        self._warming: set[asyncio.Task[None]] = set()
        metrics.watch(in_flight=lambda: self.admission.in_flight, queued=self.queued)

    @property
    def run_executor(self) -> RunExecutor:
        """The threads model runs happen on (shared by every model)."""
        return self._executor

    def queued(self) -> int:
        return sum(batcher.queued for _, batcher in self._batchers.values())

    async def load(self, model: AuthorizedModel) -> LoadedModel:
        try:
            return await self.sessions.get(model_id=model.model_id, onnx_key=model.onnx_key, card=model.card)
        except ModelLoadError as e:
            raise ModelUnavailable(f"model {model.model_id} cannot be loaded: {e}; re-register it") from e

    def warm(self, model: AuthorizedModel) -> None:
        """Load the model in the background (e.g. when a token is made), so its first request is fast."""
        if model.model_id in self.sessions:
            return

        async def warm() -> None:
            try:
                await self.load(model)
            except ModelUnavailable as e:  # its first request will say so
                log.warning("warming model %s failed: %s", model.model_id, e.message)

        task = asyncio.create_task(warm())
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)

    async def probabilities(self, loaded: LoadedModel, feeds: Feeds) -> np.ndarray:
        """(rows, classes) probabilities for this request's feeds, run together with other requests'."""
        return await self.batcher(loaded).submit(feeds)

    def evict(self, model_id: str) -> None:
        self.sessions.evict(model_id)
        self.admission.forget(model_id)
        entry = self._batchers.get(model_id)
        if entry is not None and not entry[1].queued:
            del self._batchers[model_id]

    def close(self) -> None:
        for task in self._warming:
            task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def batcher(self, loaded: LoadedModel) -> Batcher:
        """The loaded model's batcher (made on first use)."""
        entry = self._batchers.get(loaded.model_id)
        if entry is None or entry[0] is not loaded:
            cost = self.admission.cost(loaded.model_id)
            batcher = Batcher(
                run=partial(run_model, loaded),
                executor=self._executor,
                max_rows=self._settings.batch_max_rows,
                max_wait_s=self._settings.batch_wait_ms / 1000,
                on_batch=partial(self._observe_batch, cost),
                pad_values=task_for(loaded.card).pad_values(loaded.card),
                inline=partial(self._runs_inline, cost),
            )
            self._batchers[loaded.model_id] = (loaded, batcher)
            self._prune()
            return batcher
        return entry[1]

    def _runs_inline(self, cost: RowCost, rows: int) -> bool:
        """Whether a batch of ``rows`` is measured to cost less than a thread hand-off (and no other
        run is in progress, so the one-run-at-a-time bound holds). Unmeasured models use the threads."""
        return not self._executor.busy and 0.0 < cost.run_s * rows * 1000 <= self._settings.inline_run_ms

    def _observe_batch(self, cost: RowCost, rows: int, seconds: float) -> None:
        cost.record_run(rows, seconds)
        self._metrics.observe_batch(rows, seconds)

    def _prune(self) -> None:
        """Forget batchers of models no longer loaded once they are idle."""
        for model_id, (_, batcher) in list(self._batchers.items()):
            if model_id not in self.sessions and not batcher.queued:
                del self._batchers[model_id]
