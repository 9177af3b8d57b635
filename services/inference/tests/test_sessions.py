"""The ONNX session cache: loads from the store, checks the graph against the card, evicts the LRU."""

from __future__ import annotations

import asyncio
from functools import partial

import numpy as np
import pytest
from common.contracts import ModelCard
from common.store import LocalStore
from inference.predict.server import load_for_task
from inference.predict.sessions import ModelLoadError, OnnxSessionCache
from inference.testing import build_classifier, model_card


class CountingStore(LocalStore):
    def __init__(self, root) -> None:
        super().__init__(root)
        self.reads: list[str] = []

    def get_bytes(self, key: str) -> bytes:
        self.reads.append(key)
        return super().get_bytes(key)


@pytest.fixture
def store(tmp_path) -> CountingStore:
    store = CountingStore(tmp_path / "objects")
    for name in ("a", "b", "c"):
        store.put_bytes(f"runs/{name}/model.onnx", build_classifier())
    return store


CARD = ModelCard.model_validate(model_card(run_id="r"))


def cache(store, capacity: int = 2) -> OnnxSessionCache:
    return OnnxSessionCache(capacity=capacity, loader=partial(load_for_task, store=store, intra_op_threads=1))


async def load(sessions: OnnxSessionCache, name: str):
    return await sessions.get(model_id=name, onnx_key=f"runs/{name}/model.onnx", card=CARD)


async def test_loaded_session_reads_input_and_output_names_from_the_graph(store):
    loaded = await load(cache(store), "a")
    assert (loaded.input_names, loaded.output_name) == (("input",), "logits")
    (logits,) = loaded.session.run(None, {"input": np.zeros((2, 3, 16, 16), dtype=np.float32)})
    assert logits.shape == (2, 4)


async def test_cache_evicts_the_least_recently_used_model(store):
    sessions = cache(store, capacity=2)
    await load(sessions, "a")
    await load(sessions, "b")
    await load(sessions, "a")  # a is now the most recently used
    await load(sessions, "c")
    assert ("a" in sessions, "b" in sessions, "c" in sessions) == (True, False, True)
    assert len(sessions) == 2


async def test_cache_hit_does_not_read_the_store_again(store):
    sessions = cache(store)
    first = await load(sessions, "a")
    second = await load(sessions, "a")
    assert first is second
    assert store.reads == ["runs/a/model.onnx"]


async def test_concurrent_first_requests_share_one_load(store):
    sessions = cache(store)
    loaded = await asyncio.gather(*(load(sessions, "a") for _ in range(5)))
    assert all(item is loaded[0] for item in loaded)
    assert store.reads == ["runs/a/model.onnx"]


async def test_evicted_model_is_loaded_again_on_next_use(store):
    sessions = cache(store)
    await load(sessions, "a")
    sessions.evict("a")
    assert "a" not in sessions
    await load(sessions, "a")
    assert store.reads == ["runs/a/model.onnx", "runs/a/model.onnx"]


@pytest.mark.parametrize(
    ("onnx_bytes", "card", "message"),
    [
        pytest.param(None, CARD, "no ONNX file", id="missing"),
        pytest.param(b"not a protobuf", CARD, "not a loadable ONNX model", id="corrupt"),
        pytest.param(
            build_classifier(weights=np.ones((3, 2), dtype=np.float32)),
            CARD,
            r"expected \(N, 4\)",
            id="classes",
        ),
        pytest.param(build_classifier(input_size=32), CARD, "input_size 16", id="input-size"),
    ],
)
async def test_load_refuses_a_model_that_does_not_fit_its_card(store, onnx_bytes, card, message):
    if onnx_bytes is not None:
        store.put_bytes("runs/bad/model.onnx", onnx_bytes)
    sessions = cache(store)
    with pytest.raises(ModelLoadError, match=message):
        await sessions.get(model_id="bad", onnx_key="runs/bad/model.onnx", card=card)
    assert "bad" not in sessions
