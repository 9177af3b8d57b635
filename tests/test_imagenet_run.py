"""An imagenet run through the trainer's API: created with POST /runs (no upload: the run names prepared
data), launched by the dispatcher through the local executor (``python -m trainer.training``, the
Kubernetes Job's entrypoint), trained on a miniature ILSVRC2012 copy, settled, and its model
registered with the inference service. Bad requests are 422s that name the field.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time

import httpx
import pytest
from common.contracts import INTERNAL_TOKEN_HEADER, OWNER_HEADER
from common.settings import LOCAL_INTERNAL_TOKEN
from trainer.imagenet.miniature import write_miniature
from trainer.imagenet.prepare import PrepareConfig, prepare
from trainer.runs import repository as repo

from tests.queue.world import open_world

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
    # The trainer API on a real uvicorn server (it takes the worker's events and heartbeats), the
    # inference app in process, a fresh SQLite database.
    async with open_world(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path) as w:
        async with httpx.AsyncClient(base_url=w.trainer_url, headers=HEADERS, timeout=30) as api:
            yield api, w, mini


async def test_an_imagenet_run_created_through_the_api_trains_and_registers_its_model(world):
    api, w, mini = world
    # The real entrypoint (python -m trainer.training), with a lease that survives a loaded machine.
    dispatcher = w.dispatcher(worker_command=["-m", "trainer.training"], lease_s=120.0, heartbeat_s=2.0)
    maker, store = w.maker, w.store
    created = await api.post("/runs", json={"task": "imagenet", "config": {"data": "ilsvrc-mini", **RECIPE}})
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
    history = row.metrics["history"]  # the epoch event came back through the API
    assert [h["epoch"] for h in history] == [1] and {"top1", "top5"} <= history[0].keys()
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
    response = await api.post("/runs", json=body)
    assert response.status_code == 422, response.text
    assert field in response.text


async def test_an_imagenet_run_through_the_api_becomes_a_job_on_the_kubernetes_api(world, tmp_path):
    """The Kubernetes executor against the fake API server (real client, real HTTP): the run's Job
    starts the training entrypoint with the imagenet spec; that exact command, run here as the pod
    would run it, trains, and the Job's completion settles the run with its model registered."""
    from trainer.executors.kubernetes.manifests import job_name
    from trainer.testing.fake_kubernetes import fake_kubernetes
    from trainer.training.settings import RUN_TOKEN_ENV

    from tests.queue.test_kubernetes_executor import NS, k8s_dispatcher

    api, w, _ = world
    created = await api.post("/runs", json={"task": "imagenet", "config": {"data": "ilsvrc-mini", **RECIPE}})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    with fake_kubernetes() as cluster:
        cluster.kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
        dispatcher = k8s_dispatcher(cluster, w, lease_s=120.0, heartbeat_s=2.0)
        await dispatcher.tick()
        job = cluster.cluster.get("jobs", NS, job_name(run_id, 1))
        assert job is not None
        command = job["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command[:3] == ["python", "-m", "trainer.training"]
        spec = json.loads(command[command.index("--spec-json") + 1])
        assert spec["config"]["task"] == "imagenet" and spec["config"]["data"] == "ilsvrc-mini"

        name = job["metadata"]["name"]
        cluster.cluster.start(name, namespace=NS)
        container = job["spec"]["template"]["spec"]["containers"][0]
        env = {**os.environ, **{e["name"]: e["value"] for e in container.get("env", []) if "value" in e}}
        secret = cluster.cluster.get("secrets", NS, name)  # the attempt's token, as the pod gets it
        env[RUN_TOKEN_ENV] = base64.b64decode(secret["data"]["token"]).decode()
        env["TRAINYARD_STORE_ROOT"] = str(w.store.root)
        pod = await asyncio.create_subprocess_exec(sys.executable, *command[1:], env=env)  # the pod
        assert await pod.wait() == 0
        cluster.cluster.succeed(name, namespace=NS, log="done")
        deadline = time.monotonic() + 60
        while (run := await w.run(run_id)).status != "succeeded" and time.monotonic() < deadline:
            await dispatcher.tick()
            await asyncio.sleep(0.2)
    assert run.status == "succeeded" and run.model_id is not None
