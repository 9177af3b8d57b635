"""A trainer prepares its default backbone in the store at its first start, in its own process, and a
later start on the same store finds it prepared and does nothing (``trainer.backbone_preparation``)."""

from __future__ import annotations

import asyncio

import httpx
from common.contracts import INTERNAL_TOKEN_HEADER
from common.store import LocalStore
from trainer.backbone_preparation import prepared_key
from trainer.main import create_app
from trainer.settings import Settings
from trainer.training.image.backbone_onnx import load_prepared

TOKEN = "test-internal-token-0123456789abcdef"


async def start_and_wait(settings: Settings, store: LocalStore) -> dict:
    """Start the trainer (lifespan, dispatcher on), wait until its preparation is over; its status."""
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.preparation.ready.wait(), timeout=240)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://trainer") as client:
            response = await client.get("/admin/backbones", headers={INTERNAL_TOKEN_HEADER: TOKEN})
    assert response.status_code == 200
    return response.json()


async def test_the_trainer_prepares_its_default_backbone_once_per_store(tmp_path):
    store = LocalStore(tmp_path / "objects")
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        internal_token=TOKEN,
        log_json=False,
        prepare_backbones=["efficientnet_lite0"],
        prepare_image_size=64,  # the real backbone, at the tests' small input size
    )
    key, prepared = prepared_key(store, backbone="efficientnet_lite0", image_size=64)
    assert key is not None and not prepared

    first = await start_and_wait(settings, store)
    (status,) = first["backbones"]
    assert first["ready"] and status["state"] == "prepared", status
    assert status["detail"] == key and status["seconds"] > 0  # it ran the preparation
    backbone = load_prepared(store, key)
    assert backbone is not None and backbone.feature_dim == 1280
    written = {
        p: p.stat().st_mtime_ns for p in (tmp_path / "objects" / "pretrained").rglob("*") if p.is_file()
    }
    assert len(written) == 3  # graph, state, metadata

    second = await start_and_wait(settings, store)
    (status,) = second["backbones"]
    assert status["state"] == "prepared" and status["seconds"] is None  # found, not prepared again
    assert {p: p.stat().st_mtime_ns for p in written} == written


async def test_a_trainer_told_to_prepare_nothing_is_ready_at_once(tmp_path):
    settings = Settings(
        environment="test", data_dir=tmp_path, internal_token=TOKEN, log_json=False, prepare_backbones=[]
    )
    status = await start_and_wait(settings, LocalStore(tmp_path / "objects"))
    assert status == {"ready": True, "backbones": []}
