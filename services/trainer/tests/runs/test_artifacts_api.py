"""The artifacts API serves what a user may download, and never the resume checkpoint (a pickle)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from common.contracts import INTERNAL_TOKEN_HEADER, OWNER_HEADER
from common.store import LocalStore
from trainer.main import create_app
from trainer.runs.models import Run
from trainer.settings import Settings

TOKEN = "test-internal-token-0123456789abcdef"
HEADERS = {INTERNAL_TOKEN_HEADER: TOKEN, OWNER_HEADER: "alice"}


@pytest.fixture
async def client_and_run(tmp_path):
    store = LocalStore(tmp_path / "objects")
    settings = Settings(environment="test", data_dir=tmp_path, internal_token=TOKEN, log_json=False)
    app = create_app(settings, store=store, dispatch=False)
    async with app.router.lifespan_context(app):
        run_id = uuid.uuid4().hex
        async with app.state.sessionmaker() as session:
            session.add(
                Run(
                    id=run_id,
                    owner="alice",
                    dataset_id="d1",
                    task="image",
                    status="succeeded",
                    config={},
                    attempts=1,
                    progress={},
                    metrics={},
                    manifest_key="datasets/d1/manifest.json",
                    artifacts_prefix=f"runs/{run_id}/",
                    created_at=datetime.now(UTC),
                )
            )
            await session.commit()
        for name in ("checkpoint.pt", "model_card.json"):
            store.put_bytes(f"runs/{run_id}/{name}", b"{}")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://trainer", headers=HEADERS) as c:
            yield c, run_id


async def test_the_checkpoint_is_neither_listed_nor_downloadable(client_and_run):
    client, run_id = client_and_run
    listed = (await client.get(f"/runs/{run_id}/artifacts")).json()["items"]
    assert [a["name"] for a in listed] == ["model_card.json"]

    response = await client.get(f"/runs/{run_id}/artifacts/checkpoint.pt")
    assert response.status_code == 404
    assert "list them with GET" in response.json()["error"]["message"]
    assert (await client.get(f"/runs/{run_id}/artifacts/model_card.json")).status_code == 200
