from __future__ import annotations

import httpx
import pytest
from common.testing.ports import free_port
from gateway.main import create_app
from gateway.settings import Settings


def gateway_settings(tmp_path, **overrides) -> Settings:
    """A gateway whose internal services are all down: enough for accounts and the web app."""
    closed = f"http://127.0.0.1:{free_port()}"
    return Settings(
        data_dir=tmp_path,
        dataset_url=closed,
        trainer_url=closed,
        inference_url=closed,
        log_json=False,
        **overrides,
    )


@pytest.fixture
async def make_gateway(tmp_path):
    """Start a gateway app in-process with the given settings; yields an httpx client factory."""
    stack = []

    async def start(**overrides) -> httpx.AsyncClient:
        app = create_app(gateway_settings(tmp_path, **overrides))
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw")
        stack.append((lifespan, client))
        return client

    yield start
    for lifespan, client in reversed(stack):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)
