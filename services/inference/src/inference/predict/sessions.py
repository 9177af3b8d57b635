"""ONNX Runtime sessions loaded from the object store, kept in an LRU keyed by model id."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

import onnxruntime as ort
from common.contracts import ModelCard
from common.imaging import Preprocessing
from common.store import ObjectNotFound, ObjectStore

PREFERRED_INPUT = "input"
PREFERRED_OUTPUT = "logits"


class ModelLoadError(Exception):
    """The ONNX file is missing, unreadable, or does not fit its card. Callers map it to an HTTP error."""


@dataclass(frozen=True)
class LoadedModel:
    model_id: str
    session: ort.InferenceSession
    input_name: str
    output_name: str
    classes: tuple[str, ...]
    preprocessing: Preprocessing


def _static(dim: object) -> int | None:
    """A dimension as an int when it is fixed; None for a named (dynamic) axis."""
    return dim if isinstance(dim, int) and dim > 0 else None


def check_signature(session: ort.InferenceSession, *, card: ModelCard) -> tuple[str, str]:
    """(input name, output name) once the graph is known to take (N, 3, S, S) float and give (N, classes)."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelLoadError(f"the model has {len(inputs)} inputs; expected one image tensor")
    image = next((i for i in inputs if i.name == PREFERRED_INPUT), inputs[0])
    if image.type != "tensor(float)":
        raise ModelLoadError(f"the model's input {image.name!r} is {image.type}; expected tensor(float)")
    shape = list(image.shape)
    if len(shape) != 4 or _static(shape[1]) not in (None, 3):
        raise ModelLoadError(f"the model's input {image.name!r} has shape {shape}; expected (N, 3, H, W)")
    for dim in shape[2:]:
        if _static(dim) not in (None, card.input_size):
            raise ModelLoadError(
                f"the model's input {image.name!r} has shape {shape} but its card says input_size "
                f"{card.input_size}"
            )
    outputs = session.get_outputs()
    logits = next((o for o in outputs if o.name == PREFERRED_OUTPUT), outputs[0])
    out_shape = list(logits.shape)
    if len(out_shape) != 2 or _static(out_shape[1]) not in (None, len(card.classes)):
        raise ModelLoadError(
            f"the model's output {logits.name!r} has shape {out_shape}; expected (N, {len(card.classes)}) "
            "to match the card's classes"
        )
    return image.name, logits.name


def load_model(
    *, store: ObjectStore, model_id: str, onnx_key: str, card: ModelCard, intra_op_threads: int
) -> LoadedModel:
    """Blocking: read the ONNX bytes from the store and build a CPU session. Call it from a thread."""
    try:
        data = store.get_bytes(onnx_key)
    except ObjectNotFound as e:
        raise ModelLoadError(f"no ONNX file at {onnx_key!r} in the object store") from e
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for unparsable or invalid graphs
        raise ModelLoadError(f"{onnx_key!r} is not a loadable ONNX model: {e}") from e
    input_name, output_name = check_signature(session, card=card)
    return LoadedModel(
        model_id=model_id,
        session=session,
        input_name=input_name,
        output_name=output_name,
        classes=tuple(card.classes),
        preprocessing=Preprocessing.from_card(card),
    )


class OnnxSessionCache:
    """The ``capacity`` most recently used models, loaded once each.

    Concurrent first requests for one model share a single load (a lock per model id being loaded).
    """

    def __init__(self, *, store: ObjectStore, capacity: int, intra_op_threads: int) -> None:
        self._store = store
        self._capacity = capacity
        self._intra_op_threads = intra_op_threads
        self._loaded: OrderedDict[str, LoadedModel] = OrderedDict()
        self._loading: dict[str, asyncio.Lock] = {}

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._loaded

    def __len__(self) -> int:
        return len(self._loaded)

    async def get(self, *, model_id: str, onnx_key: str, card: ModelCard) -> LoadedModel:
        """The loaded model, loading it on a miss. Raises ``ModelLoadError``."""
        if (hit := self._hit(model_id)) is not None:
            return hit
        lock = self._loading.setdefault(model_id, asyncio.Lock())
        try:
            async with lock:
                if (hit := self._hit(model_id)) is not None:
                    return hit
                loaded = await asyncio.to_thread(
                    load_model,
                    store=self._store,
                    model_id=model_id,
                    onnx_key=onnx_key,
                    card=card,
                    intra_op_threads=self._intra_op_threads,
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
