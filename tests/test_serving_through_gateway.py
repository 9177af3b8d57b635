"""Overload through the public entry: the gateway passes the inference service's 503 and its
Retry-After through unchanged (not a 502), and admitted requests still complete."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
from common.clients import InferenceClient
from common.settings import LOCAL_INTERNAL_TOKEN
from common.store import LocalStore
from gateway.main import create_app as create_gateway_app
from gateway.settings import Settings as GatewaySettings
from inference.main import create_app as create_inference_app
from inference.settings import Settings as InferenceSettings
from inference.testing import RED, image_bytes, owner_headers, write_artifacts


async def test_overload_is_a_503_with_retry_after_through_the_gateway(tmp_path):
    store = LocalStore(tmp_path / "objects")
    inference = create_inference_app(
        InferenceSettings(
            data_dir=tmp_path,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'inference.db'}",
            max_in_flight=1,
            retry_after_s=2,
            log_json=False,
        ),
        store=store,
    )
    gateway = create_gateway_app(
        GatewaySettings(
            data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}", log_json=False
        )
    )
    async with inference.router.lifespan_context(inference), gateway.router.lifespan_context(gateway):
        to_inference = httpx.ASGITransport(inference)
        gateway.state.clients.inference = InferenceClient(
            "http://inference", internal_token=LOCAL_INTERNAL_TOKEN, transport=to_inference
        )
        async with (
            httpx.AsyncClient(transport=to_inference, base_url="http://inference") as internal,
            httpx.AsyncClient(transport=httpx.ASGITransport(gateway), base_url="http://gw") as public,
        ):
            headers = owner_headers() | {"X-Trainyard-Internal-Token": LOCAL_INTERNAL_TOKEN}
            body = write_artifacts(store, run_id="r-1").model_dump()
            model = (await internal.post("/models", json=body, headers=headers)).json()
            token = (await internal.post(f"/models/{model['id']}/tokens", headers=headers)).json()["token"]
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
        await gateway.state.clients.inference.aclose()

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "2"
    assert refused.json()["error"]["code"] == "overloaded"
    assert done.status_code == 200
    assert done.json()["top_k"][0]["label"] == "red"
    assert metrics.status_code == 401  # operator-only, not public
