"""Maintenance mode on Postgres: the switch is stored (it survives a trainer restart and every replica
sees it), new runs get 503 + Retry-After, running runs finish, queued runs wait for the switch."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from common.contracts import INTERNAL_TOKEN_HEADER, OWNER_HEADER
from common.embedded import Stack
from common.maintenance import MaintenanceChange
from common.settings import LOCAL_INTERNAL_TOKEN
from common.testing.ports import free_port
from trainer.admin import maintenance

from tests.queue.test_workers import ticking
from tests.queue.world import open_world

pytestmark = pytest.mark.timeout(180)

HEADERS = {INTERNAL_TOKEN_HEADER: LOCAL_INTERNAL_TOKEN, OWNER_HEADER: "ops-alice"}
IMAGENET_RUN = {"task": "imagenet", "config": {"data": "ilsvrc-mini"}}  # needs no data set service


def trainer_process(name: str, *, postgres_url: str, tmp_path) -> Stack:
    """A trainer replica (a real uvicorn process, instance id ``name``) on the shared Postgres database.
    Its workers only sleep: what matters here is what the API and the dispatchers decide."""
    stack = Stack(ports={"trainer": free_port()}, data_dir=tmp_path / name, log_dir=tmp_path / name / "logs")
    stack.start_service(
        "trainer",
        extra_env={
            "TRAINYARD_ENVIRONMENT": "test",
            "TRAINYARD_TRAINER_DATABASE_URL": postgres_url,
            "TRAINYARD_TRAINER_INSTANCE_ID": name,
            "TRAINYARD_STORE_ROOT": str(tmp_path / "objects"),
            "TRAINYARD_TRAINER_WORKER_COMMAND": '["-c", "import time; time.sleep(60)"]',
        },
    )
    stack.wait_ready("trainer")
    return stack


def test_the_switch_is_stored_shared_by_replicas_and_refuses_new_runs(postgres_url, tmp_path):
    """Replica b starts after the switch was turned on through replica a: a process that never saw the
    change in memory (as after a restart) refuses new runs too, and turning it off through b frees a."""
    a = trainer_process("a", postgres_url=postgres_url, tmp_path=tmp_path)
    b = None
    try:
        with httpx.Client(base_url=a.url("trainer"), headers=HEADERS, timeout=30) as to_a:
            assert httpx.get(a.url("trainer") + "/admin/maintenance").status_code == 401
            unauthorised = httpx.put(a.url("trainer") + "/admin/maintenance", json={"enabled": True})
            assert unauthorised.status_code == 401
            assert to_a.get("/admin/maintenance").json()["enabled"] is False
            before = to_a.post("/runs", json=IMAGENET_RUN)
            assert before.status_code == 201, before.text

            on = to_a.put(
                "/admin/maintenance",
                json={"enabled": True, "reason": "upgrading Postgres", "retry_after_s": 120},
            )
            assert on.status_code == 200, on.text
            refused = to_a.post("/runs", json=IMAGENET_RUN)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "120"
            error = refused.json()["error"]
            assert error["code"] == "maintenance" and "upgrading Postgres" in error["message"]
            # What exists is still served.
            assert to_a.get(f"/runs/{before.json()['id']}").status_code == 200

            b = trainer_process("b", postgres_url=postgres_url, tmp_path=tmp_path)
            with httpx.Client(base_url=b.url("trainer"), headers=HEADERS, timeout=30) as to_b:
                state = to_b.get("/admin/maintenance").json()
                assert state["enabled"] is True and state["source"] == "switch"
                assert (state["reason"], state["retry_after_s"], state["changed_by"]) == (
                    "upgrading Postgres",
                    120,
                    "ops-alice",
                )
                assert to_b.post("/runs", json=IMAGENET_RUN).status_code == 503

                assert to_b.put("/admin/maintenance", json={"enabled": False}).json()["enabled"] is False
            assert to_a.post("/runs", json=IMAGENET_RUN).status_code == 201
    finally:
        for stack in (a, b):
            if stack is not None:
                stack.stop()


@pytest.fixture
async def world(postgres_url, tmp_path):
    async with open_world(postgres_url, tmp_path) as world:
        yield world


async def switch(world, enabled: bool) -> None:
    async with world.maker() as session:
        await maintenance.change(
            session, body=MaintenanceChange(enabled=enabled), by="ops", settings=world.settings()
        )
        await session.commit()


async def test_running_runs_finish_and_queued_runs_wait_until_maintenance_ends(world):
    """Chosen: queued runs stay queued (no dispatcher starts one) while maintenance is on, so an operator
    can drain the workers; they start, in order, once it is off."""
    first, second = world.dispatcher(instance_id="a"), world.dispatcher(instance_id="b")
    [running] = await world.add_runs(1, epochs=4, epoch_s=0.3)
    async with ticking(first, second):
        await world.wait([running], lambda r: r.status == "running")
        await switch(world, True)
        [waiting] = await world.add_runs(1)
        [finished] = await world.wait([running], lambda r: r.status == "succeeded", within=30)
        assert finished.attempts == 1
        await asyncio.sleep(1.0)  # several ticks of both dispatchers, each with free slots
        stuck = await world.run(waiting)
        assert (stuck.status, stuck.attempts) == ("queued", 0)

        await switch(world, False)
        [done] = await world.wait([waiting], lambda r: r.status == "succeeded", within=30)
    assert done.attempts == 1


async def test_the_setting_forces_maintenance_on_whatever_the_switch_says(world):
    async with world.maker() as session:
        state = await maintenance.state(session, settings=world.settings(maintenance=True))
    assert (state.enabled, state.source) == (True, "setting")
    forced = world.dispatcher(instance_id="forced", maintenance=True)
    [run] = await world.add_runs(1)
    for _ in range(3):
        await forced.tick()
    assert (await world.run(run)).status == "queued"
