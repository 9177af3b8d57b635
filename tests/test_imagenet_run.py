"""An imagenet run through the trainer's API: created with POST /runs (no upload: the run names prepared
data), launched by the dispatcher through the local executor (``python -m trainer.training``, the
Kubernetes Job's entrypoint), trained on a miniature ILSVRC2012 copy, settled, and its model
registered with the inference service. Bad requests are 422s that name the field.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from common.clients import InferenceClient
from common.contracts import INTERNAL_TOKEN_HEADER, OWNER_HEADER
from common.settings import LOCAL_INTERNAL_TOKEN
from common.store import LocalStore
from inference.main import create_app as create_inference_app
from inference.settings import Settings as InferenceSettings
from trainer.dispatcher import RunDispatcher
from trainer.executors.local import LocalExecutor
from trainer.imagenet.miniature import write_miniature
from trainer.imagenet.prepare import PrepareConfig, prepare
from trainer.main import create_app as create_trainer_app
from trainer.runs import repository as repo
from trainer.settings import Settings as TrainerSettings

HEADERS = {INTERNAL_TOKEN_HEADER: LOCAL_INTERNAL_TOKEN, OWNER_HEADER: "alice"}
RECIPE = {"arch": "resnet_tiny", "epochs": 1, "batch_size": 4, "min_res": 32, "max_res": 32, "eval_res": 32}


@pytest.fixture
async def world(tmp_path, monkeypatch):
    root = tmp_path / "imagenet-root"
    mini = write_miniature(tmp_path / "raw", classes=3, train_per_class=4, val_per_class=2)
    prepare(
        PrepareConfig.model_validate(
            {
                "train_tar": {"path": mini.train_tar},
                "val_tar": {"path": mini.val_tar},
                "devkit": {"ground_truth": {"path": mini.ground_truth}, "meta_mat": {"path": mini.meta_mat}},
                "output_dir": root / "ilsvrc-mini",
                "expected": {"classes": 3, "train": 12, "val": 6},
            }
        )
    )
    monkeypatch.setenv("TRAINYARD_TRAINER_IMAGENET_DATA_ROOT", str(root))
    monkeypatch.setenv("TRAINYARD_TRAINER_REPORT_ATTEMPTS", "1")  # no event listener in this test
    store = LocalStore(tmp_path / "objects")
    settings = TrainerSettings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    trainer = create_trainer_app(settings, store=store, dispatch=False)
    inference_app = create_inference_app(
        InferenceSettings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'inf.db'}"),
        store=store,
    )
    async with (
        trainer.router.lifespan_context(trainer),
        inference_app.router.lifespan_context(inference_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(trainer), base_url="http://trainer") as api,
    ):
        inference = InferenceClient(
            "http://inference",
            internal_token=LOCAL_INTERNAL_TOKEN,
            transport=httpx.ASGITransport(inference_app),
        )
        dispatcher = RunDispatcher(
            settings=settings,
            sessionmaker=trainer.state.sessionmaker,
            store=store,
            executor=LocalExecutor(settings=settings),
            inference=inference,
        )
        yield api, dispatcher, trainer.state.sessionmaker, store, mini
        await inference.aclose()


async def test_an_imagenet_run_created_through_the_api_trains_and_registers_its_model(world):
    api, dispatcher, maker, store, mini = world
    created = await api.post(
        "/runs", json={"task": "imagenet", "config": {"data": "ilsvrc-mini", **RECIPE}}, headers=HEADERS
    )
    assert created.status_code == 201, created.text
    run = created.json()
    assert (run["status"], run["dataset_id"], run["config"]["task"]) == ("queued", "ilsvrc-mini", "imagenet")

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        await dispatcher.tick()
        async with maker() as session:
            row = await repo.get_run(session, run_id=run["id"])
        if row.status in repo.TERMINAL:
            break
        await asyncio.sleep(0.5)
    assert row.status == "succeeded", (row.status, row.error)
    assert row.model_id is not None
    card = store.get_bytes(run["artifacts_prefix"] + "model_card.json")
    assert all(wnid.encode() in card for wnid in mini.wnids)
    assert store.exists(run["artifacts_prefix"] + "checkpoint.pt")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "imagenet", "config": {"data": "../etc"}}, "data"),
        ({"task": "imagenet", "dataset_id": "d1", "config": {"data": "x"}}, "dataset_id"),
        ({"task": "imagenet", "config": {"data": "x", "arch": "vgg16"}}, "arch"),
        ({"task": "imagenet", "config": {"data": "x", "nodes": 4}}, "nodes"),
        ({"task": "image", "config": {}}, "dataset_id"),
    ],
)
async def test_bad_imagenet_requests_are_422s_that_name_the_problem(world, body, field):
    api = world[0]
    response = await api.post("/runs", json=body, headers=HEADERS)
    assert response.status_code == 422, response.text
    assert field in response.text
