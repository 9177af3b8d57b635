"""The runs API on Postgres, with the real dataset and inference apps: idempotent creation under a
burst of identical requests, and delete taking the run's artifacts, its model and the local executor's
work dir (spec, log) with it."""

from __future__ import annotations

import asyncio
import io
import zipfile

import httpx
import pytest
from common.clients import DatasetClient
from common.contracts import INTERNAL_TOKEN_HEADER, OWNER_HEADER
from dataset.testing.app import INTERNAL_TOKEN, make_settings, post_dataset, serve
from PIL import Image
from sqlalchemy import func, select
from trainer.executors.local import LocalExecutor
from trainer.main import create_app
from trainer.runs.models import Run

from tests.queue.test_settling import write_model
from tests.queue.world import open_world

HEADERS = {INTERNAL_TOKEN_HEADER: INTERNAL_TOKEN, OWNER_HEADER: "alice"}


def image_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
            for i in range(12):
                png = io.BytesIO()
                Image.new("RGB", (48, 40 + i), colour).save(png, format="PNG")
                archive.writestr(f"{label}/{i}.png", png.getvalue())
    return buffer.getvalue()


@pytest.fixture
async def api(postgres_url, tmp_path):
    """(trainer client, world, dataset id)."""
    async with open_world(postgres_url, tmp_path) as world:
        settings = make_settings(
            data_dir=tmp_path / "ds", database_url=f"sqlite+aiosqlite:///{tmp_path / 'ds.db'}"
        )
        async with serve(settings, store=world.store) as datasets:
            uploaded = await post_dataset(datasets, "colours.zip", image_zip())
            assert uploaded.status_code == 201, uploaded.text
            app = create_app(
                world.settings(internal_token=INTERNAL_TOKEN, database_url=postgres_url),
                store=world.store,
                dispatch=False,
            )
            async with app.router.lifespan_context(app):
                app.state.datasets = DatasetClient(
                    "http://dataset", internal_token=INTERNAL_TOKEN, transport=datasets._transport
                )
                app.state.inference = world.inference
                transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://trainer", headers=HEADERS
                ) as client:
                    yield client, world, uploaded.json()["id"]


async def test_fifty_identical_posts_with_one_idempotency_key_make_one_run(api):
    client, world, dataset_id = api
    body = {"dataset_id": dataset_id, "config": {"epochs": 2}}
    answers = await asyncio.gather(
        *(client.post("/runs", json=body, headers={"Idempotency-Key": "retry-42"}) for _ in range(50))
    )
    assert sorted({a.status_code for a in answers}) == [200, 201], {a.status_code: a.text for a in answers}
    assert sum(a.status_code == 201 for a in answers) == 1
    assert len({a.json()["id"] for a in answers}) == 1
    async with world.maker() as session:
        assert (await session.execute(select(func.count()).select_from(Run))).scalar_one() == 1


async def test_an_idempotency_key_reused_for_another_run_is_refused(api):
    client, _, dataset_id = api
    first = await client.post("/runs", json={"dataset_id": dataset_id}, headers={"Idempotency-Key": "k1"})
    other = await client.post(
        "/runs", json={"dataset_id": dataset_id, "config": {"epochs": 3}}, headers={"Idempotency-Key": "k1"}
    )
    assert first.status_code == 201 and other.status_code == 409
    assert "use a new key" in other.json()["error"]["message"]


async def test_a_queued_run_says_where_it_stands_in_the_queue(api):
    client, _, dataset_id = api
    ids = [(await client.post("/runs", json={"dataset_id": dataset_id})).json()["id"] for _ in range(3)]
    positions = [(await client.get(f"/runs/{run_id}")).json()["queue_position"] for run_id in ids]
    assert positions == [1, 2, 3]


async def test_deleting_a_run_removes_its_artifacts_and_its_model(api):
    client, world, dataset_id = api
    run_id = (await client.post("/runs", json={"dataset_id": dataset_id})).json()["id"]
    dispatcher = world.dispatcher(instance_id="a", worker_command=["-c", "import time; time.sleep(60)"])
    await dispatcher.tick()
    write_model(world, run_id)
    dispatcher.executor._launched[run_id].process.kill()
    await asyncio.sleep(0.2)
    await dispatcher.tick()
    run = (await client.get(f"/runs/{run_id}")).json()
    assert run["status"] == "succeeded" and run["model_id"]
    work = world.tmp / "work" / run_id
    assert {p.name for p in work.iterdir()} == {"spec-1.json", "attempt-1.log"}

    assert (await client.delete(f"/runs/{run_id}")).status_code == 204
    assert (await client.get(f"/runs/{run_id}")).status_code == 404
    assert list(world.store.list(f"runs/{run_id}/")) == []
    assert not work.exists()
    gone = await world.inference.call("GET", "/models", owner="alice")
    assert gone.json()["total"] == 0
    assert (await client.delete(f"/runs/{run_id}")).status_code == 404


async def test_a_run_deleted_by_a_replica_on_another_host_loses_its_work_dir_when_its_attempt_ends(api):
    client, world, dataset_id = api
    run_id = (await client.post("/runs", json={"dataset_id": dataset_id})).json()["id"]
    dispatcher = world.dispatcher(instance_id="a", worker_command=["-c", "import time; time.sleep(60)"])
    await dispatcher.tick()
    work = world.tmp / "work" / run_id
    assert work.exists()
    app = client._transport.app
    app.state.executor = LocalExecutor(settings=world.settings(data_dir=world.tmp / "other-host"))

    assert (await client.delete(f"/runs/{run_id}")).status_code == 204
    assert work.exists()  # out of the deleting replica's reach
    for _ in range(100):
        await dispatcher.tick()  # stops the attempt, then finds its run gone
        if not work.exists():
            break
        await asyncio.sleep(0.05)
    assert not work.exists()
    assert dispatcher.executor.tracked() == {}


class FailingDeletes:
    """The world's store, whose ``delete_prefix`` fails ``failures`` times (an outage mid-delete)."""

    def __init__(self, store, failures: int) -> None:
        self._store, self.failures = store, failures

    def delete_prefix(self, prefix: str) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("store unreachable")
        return self._store.delete_prefix(prefix)

    def __getattr__(self, name):
        return getattr(self._store, name)


async def test_a_data_set_purge_cut_short_hides_its_runs_and_a_retry_finishes_it(api):
    client, world, dataset_id = api
    run_ids = [(await client.post("/runs", json={"dataset_id": dataset_id})).json()["id"] for _ in range(3)]
    sleeper = ["-c", "import time; time.sleep(60)"]
    dispatcher = world.dispatcher(instance_id="a", local_workers=1, worker_command=sleeper)
    await dispatcher.tick()
    write_model(world, run_ids[0])
    dispatcher.executor._launched[run_ids[0]].process.kill()
    await asyncio.sleep(0.2)
    await dispatcher.tick()  # the first one succeeded, with a served model; the second started
    assert (await client.get(f"/runs/{run_ids[0]}")).json()["model_id"]
    assert [(await client.get(f"/runs/{r}")).json()["status"] for r in run_ids[1:]] == ["running", "queued"]

    assert {p.name for p in (world.tmp / "work").iterdir()} == set(run_ids[:2])

    app = client._transport.app
    app.state.store = FailingDeletes(world.store, failures=1)
    cut_short = await client.delete(f"/datasets/{dataset_id}/runs")
    assert cut_short.status_code == 500
    for run_id in run_ids:  # gone for their owner already, though their objects are not yet
        assert (await client.get(f"/runs/{run_id}")).status_code == 404
    assert (await client.get("/runs")).json()["total"] == 0
    assert list(world.store.list(f"runs/{run_ids[0]}/"))

    finished = await client.delete(f"/datasets/{dataset_id}/runs")
    assert finished.json() == {"deleted": 3}
    assert list(world.store.list("runs/")) == []
    assert list((world.tmp / "work").iterdir()) == []  # the two that ran had their spec and log there
    assert (await world.inference.call("GET", "/models", owner="alice")).json()["total"] == 0
    async with world.maker() as session:
        assert (await session.execute(select(func.count()).select_from(Run))).scalar_one() == 0
    assert (await client.delete(f"/datasets/{dataset_id}/runs")).json() == {"deleted": 0}
