"""A worker's credential is its attempt's own token: good for that run's events while the attempt is
current, for nothing else. The shared internal token does not work on the worker endpoint at all."""

from __future__ import annotations

import httpx
import pytest
from common.settings import LOCAL_INTERNAL_TOKEN
from trainer.runs import repository as repo
from trainer.settings import Settings

from tests.queue.world import open_world


@pytest.fixture
async def world(tmp_path):
    async with open_world(f"sqlite+aiosqlite:///{tmp_path / 'trainer.db'}", tmp_path) as world:
        yield world


async def claim(world, **kwargs) -> tuple[str, str]:
    async with world.maker() as session:
        claim = await repo.claim_next_run(
            session, executor="local", instance_id="a", lease_s=30, token_ttl_s=kwargs.get("ttl", 3600)
        )
        await session.commit()
    return claim.run.id, claim.token


async def post(world, run_id: str, headers: dict[str, str], event: dict | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=world.trainer_url) as http:
        return await http.post(
            f"/internal/runs/{run_id}/events",
            json=event or {"type": "epoch", "epoch": 1, "epochs": 2},
            headers=headers,
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_is_good_for_its_own_run_only(world):
    await world.add_runs(2)
    mine, my_token = await claim(world)
    other, other_token = await claim(world)
    assert (await post(world, mine, bearer(my_token))).status_code == 204
    refused = await post(world, other, bearer(my_token))
    assert refused.status_code == 401
    assert "not a credential of run" in refused.json()["error"]["message"]
    assert (await world.run(other)).progress["phase"] == "starting"  # untouched by the refused event


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Trainyard-Internal-Token": LOCAL_INTERNAL_TOKEN}, {"Authorization": "Bearer nope"}],
    ids=["none", "internal-token", "made-up"],
)
async def test_anything_but_an_attempt_token_is_refused(world, headers):
    (run_id,) = await world.add_runs(1)
    await claim(world)
    assert (await post(world, run_id, headers)).status_code == 401


async def test_a_superseded_attempt_is_told_to_stop(world):
    (run_id,) = await world.add_runs(1)
    _, first = await claim(world)
    async with world.maker() as session:
        assert await repo.transition(session, run_id=run_id, attempt=1, status="queued")
        await session.commit()
    _, second = await claim(world)
    stale = await post(world, run_id, bearer(first), {"type": "epoch", "epoch": 9, "epochs": 9})
    assert stale.status_code == 409
    assert "superseded" in stale.json()["error"]["message"]
    assert (await post(world, run_id, bearer(second))).status_code == 204
    assert (await world.run(run_id)).progress["epoch"] == 1


async def test_an_expired_token_is_refused(world):
    (run_id,) = await world.add_runs(1)
    _, token = await claim(world, ttl=-1)
    assert (await post(world, run_id, bearer(token))).status_code == 401


def test_the_worker_environment_holds_no_internal_token_nor_store_credentials(monkeypatch, tmp_path):
    from trainer.executors.local import training_env

    monkeypatch.setenv("TRAINYARD_INTERNAL_TOKEN", "s3cret-shared")
    monkeypatch.setenv("TRAINYARD_S3_SECRET_KEY", "s3cret-store-key")
    monkeypatch.setenv("TRAINYARD_TRAINER_S3_ACCESS_KEY", "store-access-key")
    settings = Settings(
        data_dir=tmp_path,
        internal_token="s3cret-shared",
        store_backend="s3",
        s3_access_key="store-access-key",
        s3_secret_key="s3cret-store-key",
    )
    env = training_env(settings)
    assert not {"s3cret-shared", "s3cret-store-key", "store-access-key"} & set(env.values())
    assert not [name for name in env if "S3_" in name or "STORE_ROOT" in name]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"type": "progress", "phase": "features", "done": 5, "total": 3, "unit": "images"}, "exceeds total"),
        ({"type": "phase", "phase": "warp_speed"}, "phase"),
        ({"type": "epoch", "epoch": 1, "epochs": 2, "val_acc_typo": 0.5}, "val_acc_typo"),
        ({"type": "state", "status": "succeeded"}, "type"),  # only the trainer writes a run's state
        ({"phase": "loading"}, "type"),
    ],
    ids=["done-over-total", "unknown-phase", "unknown-field", "state-from-a-worker", "no-type"],
)
async def test_a_malformed_event_is_refused_with_its_reason(world, event, reason):
    (run_id,) = await world.add_runs(1)
    _, token = await claim(world)
    refused = await post(world, run_id, bearer(token), event)
    assert refused.status_code == 422, refused.text
    assert reason in refused.text
    assert (await world.run(run_id)).progress["phase"] == "starting"  # nothing applied
