"""Test helpers: a tiny ONNX colour classifier, its artifacts in a store, the real app served in-process.

For tests only: it needs the ``onnx`` package (a workspace dev dependency, not a runtime one).
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import numpy as np
import onnx
from common.contracts import INTERNAL_TOKEN_HEADER, OWNER_HEADER, ModelRegister
from common.store import ObjectStore
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from inference.main import create_app
from inference.settings import Settings

INTERNAL_TOKEN = "test-internal-token"
CLASSES = ["red", "green", "blue", "grey"]
INPUT_SIZE = 16
RESIZE = 18
# Mean colour (normalized to [-1, 1]) -> logits: each primary votes for itself, "grey" is a constant 0.
WEIGHTS = np.array([[4.0, -2.0, -2.0, 0.0], [-2.0, 4.0, -2.0, 0.0], [-2.0, -2.0, 4.0, 0.0]], dtype=np.float32)


def build_classifier(*, weights: np.ndarray = WEIGHTS, input_size: int = INPUT_SIZE) -> bytes:
    """input [N, 3, S, S] -> ReduceMean over H, W -> MatMul [3, C] -> logits [N, C]."""
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input"], ["channel_mean"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["channel_mean", "weights"], ["logits"]),
        ],
        "colour_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, input_size, input_size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", weights.shape[1]])],
        initializer=[numpy_helper.from_array(weights, name="weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model.SerializeToString()


def model_card(*, run_id: str, classes: list[str] = CLASSES, **overrides) -> dict:
    card = {
        "task": "image",
        "classes": classes,
        "input_size": INPUT_SIZE,
        "resize": RESIZE,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "backbone": "test-colour-mean",
        "mode": "linear_probe",
        "val_accuracy": 1.0,
        "created_at": datetime(2025, 1, 1, tzinfo=UTC).isoformat(),
        "run_id": run_id,
        "dataset_id": "d-test",
    }
    return card | overrides


def write_artifacts(
    store: ObjectStore, *, run_id: str, onnx_bytes: bytes | None = None, card: dict | None = None
) -> ModelRegister:
    onnx_key, card_key = f"runs/{run_id}/model.onnx", f"runs/{run_id}/model_card.json"
    store.put_bytes(onnx_key, build_classifier() if onnx_bytes is None else onnx_bytes)
    store.put_bytes(card_key, json.dumps(model_card(run_id=run_id) if card is None else card).encode())
    return ModelRegister(run_id=run_id, name=f"model of {run_id}", onnx_key=onnx_key, card_key=card_key)


def image_bytes(colour, *, size=(40, 30), mode: str = "RGB", fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, format=fmt)
    return buf.getvalue()


RED = (255, 0, 0)
BLUE = (0, 0, 255)
GREEN = (0, 255, 0)


def owner_headers(owner: str = "alice") -> dict[str, str]:
    return {INTERNAL_TOKEN_HEADER: INTERNAL_TOKEN, OWNER_HEADER: owner}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def serve(
    *, database_url: str, store: ObjectStore, tmp_path, **overrides
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=database_url,
        internal_token=INTERNAL_TOKEN,
        log_json=False,
        **overrides,
    )
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://inference") as client:
            client.app = app  # type: ignore[attr-defined]  # tests reach app.state through the client
            yield client


async def register(client: httpx.AsyncClient, body: ModelRegister, *, owner: str = "alice") -> dict:
    response = await client.post("/models", json=body.model_dump(), headers=owner_headers(owner))
    assert response.status_code == 201, response.text
    return response.json()


async def new_token(client: httpx.AsyncClient, model_id: str, *, owner: str = "alice") -> dict:
    response = await client.post(f"/models/{model_id}/tokens", headers=owner_headers(owner))
    assert response.status_code == 201, response.text
    return response.json()


def metric_value(exposition: str, sample: str) -> float:
    """The value of one sample (``name`` or ``name{labels}``) in Prometheus text; 0 when absent."""
    for line in exposition.splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0
