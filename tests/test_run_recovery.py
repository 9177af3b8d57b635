"""No run is lost: a trainer restart settles or requeues every run an earlier instance left running.

Uses the trainer's dispatcher against a real database and the real inference app (in process).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from common.clients import InferenceClient
from common.contracts import ModelCard
from common.db import create_engine, create_sessionmaker, upgrade_database
from common.settings import LOCAL_INTERNAL_TOKEN
from common.store import LocalStore
from inference.main import create_app as create_inference_app
from inference.settings import Settings as InferenceSettings
from trainer.dispatcher import RunDispatcher
from trainer.executors.local import LocalExecutor
from trainer.main import MIGRATIONS
from trainer.runs import repository as repo
from trainer.runs import service
from trainer.runs.models import Run
from trainer.settings import Settings as TrainerSettings


@pytest.fixture
async def world(database_url, tmp_path):
    store = LocalStore(tmp_path / "objects")
    await asyncio.to_thread(
        upgrade_database, migrations_dir=MIGRATIONS, url=database_url, version_table="alembic_version_trainer"
    )
    engine = create_engine(database_url)
    maker = create_sessionmaker(engine)
    inference_app = create_inference_app(
        InferenceSettings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'inf.db'}"),
        store=store,
    )
    settings = TrainerSettings(data_dir=tmp_path, max_attempts=2)
    async with inference_app.router.lifespan_context(inference_app):
        inference = InferenceClient(
            "http://inference",
            internal_token=LOCAL_INTERNAL_TOKEN,
            transport=httpx.ASGITransport(inference_app),
        )
        dispatcher = RunDispatcher(
            settings=settings,
            sessionmaker=maker,
            store=store,
            executor=LocalExecutor(settings=settings),
            inference=inference,
        )
        yield dispatcher, maker, store, inference
        await inference.aclose()
    await engine.dispose()


async def left_running(maker, *, attempts: int) -> Run:
    run_id = uuid.uuid4().hex
    run = Run(
        id=run_id,
        owner="alice",
        dataset_id="d1",
        task="image",
        status="running",
        config={},
        attempts=attempts,
        progress={},
        metrics={},
        manifest_key="datasets/d1/manifest.json",
        artifacts_prefix=f"runs/{run_id}/",
        executor="local",
        executor_ref="999999999",
        created_at=datetime.now(UTC),
        started_at=datetime.now(UTC),
    )
    async with maker() as session:
        session.add(run)
        await session.commit()
    return run


def tiny_onnx(num_classes: int = 2) -> bytes:
    """input [N,3,H,W] -> mean over H,W -> [N,3] x [3,C] -> logits."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((3, num_classes), dtype=np.float32), "w")
    axes = numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes")
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input", "axes"], ["pooled"], keepdims=0),
            helper.make_node("MatMul", ["pooled", "w"], ["logits"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", num_classes])],
        initializer=[weight, axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_model(store: LocalStore, run: Run) -> None:
    card = ModelCard(
        classes=["a", "b"],
        input_size=224,
        mean=[0.5] * 3,
        std=[0.5] * 3,
        resize=256,
        backbone="efficientnet_lite0",
        mode="quick",
        val_accuracy=0.9,
        created_at=datetime.now(UTC),
        run_id=run.id,
        dataset_id=run.dataset_id,
    )
    store.put_bytes(run.artifacts_prefix + "model.onnx", tiny_onnx())
    store.put_bytes(run.artifacts_prefix + "model_card.json", card.model_dump_json().encode())


async def status_of(maker, run_id: str) -> Run:
    async with maker() as session:
        return await repo.get_run(session, run_id=run_id)


async def test_restart_requeues_a_run_whose_process_died(world):
    dispatcher, maker, _, _ = world
    run = await left_running(maker, attempts=1)
    await dispatcher.recover()
    after = await status_of(maker, run.id)
    assert after.status == "queued"
    assert after.progress["requeued_after"] == "restart"


async def test_restart_finishes_a_run_that_stored_its_model(world):
    dispatcher, maker, store, inference = world
    run = await left_running(maker, attempts=1)
    write_model(store, run)
    await dispatcher.recover()
    after = await status_of(maker, run.id)
    assert (after.status, after.val_accuracy) == ("succeeded", 0.9)
    registered = await inference.call("GET", f"/models/{after.model_id}", owner="alice")
    assert registered.json()["run_id"] == run.id


async def test_a_run_out_of_attempts_fails_with_the_reason(world):
    dispatcher, maker, _, _ = world
    run = await left_running(maker, attempts=2)
    await dispatcher.recover()
    after = await status_of(maker, run.id)
    assert after.status == "failed"
    assert "all 2 attempts" in after.error


async def test_events_from_an_older_attempt_are_ignored(world):
    _, maker, store, inference = world
    run = await left_running(maker, attempts=2)
    async with maker() as session:
        applied_old = await service.record_event(
            session,
            run_id=run.id,
            attempt=1,
            event={"type": "epoch", "epoch": 1},
            store=store,
            inference=inference,
        )
        applied_new = await service.record_event(
            session,
            run_id=run.id,
            attempt=2,
            event={"type": "epoch", "epoch": 3},
            store=store,
            inference=inference,
        )
        await session.commit()
    after = await status_of(maker, run.id)
    assert (applied_old, applied_new) == (False, True)
    assert after.progress["epoch"] == 3
    assert [h["epoch"] for h in after.metrics["history"]] == [3]
