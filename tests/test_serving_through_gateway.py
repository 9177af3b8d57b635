"""Predictions through the public entry, the gateway forwarding to a real inference server (uvicorn, in
this event loop, so a test can hold its model-run thread): the inference service's 503 and its
Retry-After pass through unchanged (not a 502) while admitted requests still complete; large bodies
stream through; an unreachable inference service is a 503 that says so."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import numpy as np
from common.settings import LOCAL_INTERNAL_TOKEN
from common.store import LocalStore
from common.testing.ports import free_port
from common.testing.serving import serve_in_loop
from gateway.api.predictions import WHOLE_BYTES
from gateway.main import create_app as create_gateway_app
from gateway.settings import Settings as GatewaySettings
from inference.main import create_app as create_inference_app
from inference.settings import Settings as InferenceSettings
from inference.testing import RED, image_bytes, owner_headers, write_artifacts
from PIL import Image


@asynccontextmanager
async def gateway_to_inference(tmp_path, **inference_settings) -> AsyncIterator[tuple]:
    """(public client of the gateway, the inference app, a live model token of a tiny image model)."""
    store = LocalStore(tmp_path / "objects")
    port = free_port()
    inference = create_inference_app(
        InferenceSettings(
            data_dir=tmp_path,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'inference.db'}",
            log_json=False,
            **inference_settings,
        ),
        store=store,
    )
    gateway = create_gateway_app(
        GatewaySettings(
            data_dir=tmp_path,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
            inference_url=f"http://127.0.0.1:{port}",
            log_json=False,
        )
    )
    async with (
        serve_in_loop(inference, port),
        gateway.router.lifespan_context(gateway),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as internal,
        httpx.AsyncClient(transport=httpx.ASGITransport(gateway), base_url="http://gw", timeout=30) as public,
    ):
        headers = owner_headers() | {"X-Trainyard-Internal-Token": LOCAL_INTERNAL_TOKEN}
        body = write_artifacts(store, run_id="r-1").model_dump()
        model = (await internal.post("/models", json=body, headers=headers)).json()
        token = (await internal.post(f"/models/{model['id']}/tokens", headers=headers)).json()["token"]
        yield public, inference, token


async def test_overload_is_a_503_with_retry_after_through_the_gateway(tmp_path):
    async with gateway_to_inference(tmp_path, max_in_flight=1, retry_after_s=2) as (public, inference, token):
        request = {
            "content": image_bytes(RED),
            "headers": {"Authorization": f"Bearer {token}", "content-type": "image/png"},
        }
        gate = threading.Event()
        blocker = inference.state.server.run_executor.submit(gate.wait)
        admitted = asyncio.create_task(public.post("/api/predict", **request))
        deadline = time.monotonic() + 5
        while inference.state.server.admission.in_flight < 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.005)
        refused = await public.post("/api/predict", **request)
        gate.set()
        await asyncio.wrap_future(blocker)
        done = await admitted
        metrics = await public.get("/metrics")

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "2"
    assert refused.json()["error"]["code"] == "overloaded"
    assert done.status_code == 200
    assert done.json()["top_k"][0]["label"] == "red"
    assert metrics.status_code == 401  # operator-only, not public


async def test_a_body_larger_than_the_whole_body_limit_streams_through_to_the_model(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, size=(720, 720, 3), dtype=np.uint8)
    noise[..., 0] = 255  # mostly red, so the tiny colour model has an answer to give
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    assert buffer.tell() > WHOLE_BYTES
    async with gateway_to_inference(tmp_path) as (public, _, token):
        answer = await public.post(
            "/api/predict?top_k=1",
            content=buffer.getvalue(),
            headers={"Authorization": f"Bearer {token}", "content-type": "image/png"},
        )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["top_k"]) == 1


async def test_an_unreachable_inference_service_is_a_503_that_says_so(tmp_path):
    gateway = create_gateway_app(
        GatewaySettings(
            data_dir=tmp_path,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
            inference_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
            log_json=False,
        )
    )
    async with (
        gateway.router.lifespan_context(gateway),
        httpx.AsyncClient(transport=httpx.ASGITransport(gateway), base_url="http://gw") as public,
    ):
        answer = await public.post(
            "/api/predict", json={"text": "hello"}, headers={"Authorization": "Bearer x"}
        )
    assert answer.status_code == 503
    assert "inference service is unreachable" in answer.json()["error"]["message"]
