"""ONNX Runtime sessions loaded from the object store, warmed, and kept in an LRU keyed by model id.

Task-agnostic: a model's inputs are whatever its graph declares (``InputSpec`` by name), and the
per-task signature check (``inference.predict.tasks``) decides whether the graph fits its card.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import onnxruntime as ort
from common.contracts import ModelCard
from common.imaging import Preprocessing
from common.store import ObjectNotFound, ObjectStore

from inference.predict.feeds import Feeds

_ONNX_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


class ModelLoadError(Exception):
    """The ONNX file is missing, unreadable, or does not fit its card. Callers map it to an HTTP error."""


@dataclass(frozen=True)
class InputSpec:
    name: str
    onnx_type: str
    shape: tuple[int | str | None, ...]

    @property
    def dtype(self) -> type[np.generic]:
        return _ONNX_TYPES.get(self.onnx_type, np.float32)


@dataclass(frozen=True)
class LoadedModel:
    model_id: str
    session: ort.InferenceSession
    inputs: tuple[InputSpec, ...]
    output_name: str
    classes: tuple[str, ...]
    card: ModelCard

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    @cached_property
    def preprocessing(self) -> Preprocessing:
        """The image transform of an image model's card."""
        return Preprocessing.from_card(self.card)


def cores() -> int:
    """CPU cores this process may run on (cgroup/affinity aware where the OS tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def session_options(*, intra_op_threads: int | None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads or cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle pool threads sleep instead of spinning: on a few shared cores, spinning steals the CPU
    # that decoding the next request and the HTTP servers need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def load_model(
    *,
    store: ObjectStore,
    model_id: str,
    onnx_key: str,
    card: ModelCard,
    intra_op_threads: int | None,
    check: Callable[[ort.InferenceSession, ModelCard], str],
    example_feeds: Callable[[LoadedModel], Feeds],
) -> LoadedModel:
    """Blocking: read the ONNX bytes, build a CPU session, check it against its card, and run it once
    on an example batch so the first real request pays no first-run cost. Call it from a thread."""
    try:
        data = store.get_bytes(onnx_key)
    except ObjectNotFound as e:
        raise ModelLoadError(f"no ONNX file at {onnx_key!r} in the object store") from e
    try:
        session = ort.InferenceSession(
            data,
            sess_options=session_options(intra_op_threads=intra_op_threads),
            providers=["CPUExecutionProvider"],
        )
    except Exception as e:  # onnxruntime raises its own exception types for unparsable or invalid graphs
        raise ModelLoadError(f"{onnx_key!r} is not a loadable ONNX model: {e}") from e
    output_name = check(session, card)
    loaded = LoadedModel(
        model_id=model_id,
        session=session,
        inputs=tuple(InputSpec(i.name, i.type, tuple(i.shape)) for i in session.get_inputs()),
        output_name=output_name,
        classes=tuple(card.classes),
        card=card,
    )
    try:
        session.run([output_name], example_feeds(loaded))
    except Exception as e:  # a graph that loads but cannot run on its own input shape
        raise ModelLoadError(f"{onnx_key!r} fails on an example input: {e}") from e
    return loaded


Loader = Callable[..., LoadedModel]


class OnnxSessionCache:
    """The ``capacity`` most recently used models, loaded once each.

    Concurrent first requests for one model share a single load (a lock per model id being loaded).
    ``loader(model_id=, onnx_key=, card=)`` is blocking and runs in a thread.
    """

    def __init__(
        self, *, capacity: int, loader: Loader, on_lookup: Callable[[bool], None] | None = None
    ) -> None:
        self._capacity = capacity
        self._loader = loader
        self._on_lookup = on_lookup or (lambda hit: None)
        self._loaded: OrderedDict[str, LoadedModel] = OrderedDict()
        self._loading: dict[str, asyncio.Lock] = {}

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._loaded

    def __len__(self) -> int:
        return len(self._loaded)

    async def get(self, *, model_id: str, onnx_key: str, card: ModelCard) -> LoadedModel:
        """The loaded model, loading it on a miss. Raises ``ModelLoadError``."""
        if (hit := self._hit(model_id)) is not None:
            self._on_lookup(True)
            return hit
        self._on_lookup(False)
        lock = self._loading.setdefault(model_id, asyncio.Lock())
        try:
            async with lock:
                if (hit := self._hit(model_id)) is not None:
                    return hit
                loaded = await asyncio.to_thread(
                    self._loader, model_id=model_id, onnx_key=onnx_key, card=card
                )
                self._loaded[model_id] = loaded
                while len(self._loaded) > self._capacity:
                    self._loaded.popitem(last=False)
                return loaded
        finally:
            if not lock.locked() and self._loading.get(model_id) is lock:
                del self._loading[model_id]

    def evict(self, model_id: str) -> None:
        self._loaded.pop(model_id, None)

    def _hit(self, model_id: str) -> LoadedModel | None:
        loaded = self._loaded.get(model_id)
        if loaded is not None:
            self._loaded.move_to_end(model_id)
        return loaded
