"""The retention sweeper on Postgres, on a LocalStore and on S3 (moto), with the real inference app: expired
runs leave nothing behind (no object under their prefix, no model, no token, no local work dir), every
other run is untouched, and two trainer instances sweeping at once remove each run exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from common.clients import InferenceClient
from common.db import create_engine, create_sessionmaker, upgrade_database
from common.store import ObjectStore
from inference.testing import INTERNAL_TOKEN, new_token, owner_headers, register, serve, write_artifacts
from sqlalchemy import func, select
from trainer.executors.local import LocalExecutor
from trainer.main import MIGRATIONS
from trainer.runs import repository as repo
from trainer.runs.models import Run, RunAttempt
from trainer.runs.retention import RetentionSweeper
from trainer.settings import Settings

from tests.queue.world import new_run

DAYS = timedelta(days=1)


async def add_run(maker, store: ObjectStore, inference, *, status: str, age: timedelta, model: bool) -> Run:
    """A run that ended ``age`` ago with a checkpoint and an artifact in the store (and, with ``model``,
    its model registered with the inference service and a token for it)."""
    run = new_run(config={})
    run.status, run.attempts = status, 1
    run.finished_at = repo.now() - age if status in repo.TERMINAL else None
    for name in ("checkpoint.pt", "curves.png", "logs/worker.log"):
        store.put_bytes(run.artifacts_prefix + name, b"x")
    if model:
        run.model_id = (await register(inference, write_artifacts(store, run_id=run.id)))["id"]
        await new_token(inference, run.model_id)
    attempt = RunAttempt(
        run_id=run.id,
        attempt=1,
        instance_id="i",
        token_hash=run.id,
        executor="local",
        started_at=repo.now() - age,
        expires_at=repo.now(),
    )
    async with maker() as session:
        session.add(run)
        await session.flush()
        session.add(attempt)
        await session.commit()
    return run


@pytest.fixture
async def deployment(postgres_url, any_store, tmp_path):
    """(sessionmaker, store, inference client, data dir) over one Postgres database and one store."""
    await asyncio.to_thread(
        upgrade_database, migrations_dir=MIGRATIONS, url=postgres_url, version_table="alembic_version_trainer"
    )
    engine = create_engine(postgres_url)
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'inference.db'}"
    async with serve(database_url=database_url, store=any_store, tmp_path=tmp_path) as inference:
        yield create_sessionmaker(engine), any_store, inference, tmp_path
    await engine.dispose()


def sweeper(maker, store, inference, data_dir: Path, name: str, **ttl) -> RetentionSweeper:
    client = InferenceClient(
        "http://inference", internal_token=INTERNAL_TOKEN, transport=httpx.ASGITransport(inference.app)
    )
    settings = Settings(environment="test", instance_id=name, data_dir=data_dir, log_json=False, **ttl)
    executor = LocalExecutor(settings=settings)
    return RetentionSweeper(
        settings=settings, sessionmaker=maker, store=store, inference=client, executor=executor
    )


def work_dir(data_dir: Path, run: Run) -> Path:
    """What the local executor kept of the run's attempt: its spec and its log."""
    path = data_dir / "work" / run.id
    path.mkdir(parents=True, exist_ok=True)
    (path / "spec-1.json").write_text("{}")
    (path / "attempt-1.log").write_text("epoch 1\n")
    return path


async def test_expired_runs_leave_nothing_behind_and_other_runs_are_untouched(deployment):
    maker, store, inference, data_dir = deployment
    old, recent = 10 * DAYS, 1 * DAYS
    expired = [
        await add_run(maker, store, inference, status="succeeded", age=old, model=True),
        await add_run(maker, store, inference, status="failed", age=old, model=False),
        await add_run(maker, store, inference, status="cancelled", age=old, model=False),
    ]
    kept = [
        await add_run(maker, store, inference, status="succeeded", age=recent, model=True),
        await add_run(maker, store, inference, status="failed", age=recent, model=False),
        await add_run(maker, store, inference, status="running", age=old, model=False),
        await add_run(maker, store, inference, status="queued", age=old, model=False),
    ]
    before = {run.id: sorted(store.list(run.artifacts_prefix)) for run in kept}
    work = {run.id: work_dir(data_dir, run) for run in expired + kept}
    tokens_before = (
        await inference.get(f"/models/{kept[0].model_id}/tokens", headers=owner_headers())
    ).json()

    a = sweeper(maker, store, inference, data_dir, "a", run_ttl_days=7, model_ttl_days=7)
    b = sweeper(maker, store, inference, data_dir, "b", run_ttl_days=7, model_ttl_days=7)
    removed = await asyncio.gather(a.sweep_once(), b.sweep_once())
    assert sum(removed) == len(expired)  # each run removed once, by one of the two instances
    assert await a.sweep_once() == 0

    for run in expired:
        assert list(store.list(run.artifacts_prefix)) == [], run.status
        assert not work[run.id].exists(), run.status
    assert all(work[run.id].exists() for run in kept)
    assert (await inference.get(f"/models/{expired[0].model_id}", headers=owner_headers())).status_code == 404
    async with maker() as session:
        ids = set((await session.execute(select(Run.id))).scalars())
        attempts = (await session.execute(select(func.count()).select_from(RunAttempt))).scalar_one()
    assert ids == {run.id for run in kept} and attempts == len(kept)
    assert {run.id: sorted(store.list(run.artifacts_prefix)) for run in kept} == before
    assert (
        await inference.get(f"/models/{kept[0].model_id}/tokens", headers=owner_headers())
    ).json() == tokens_before


async def test_a_model_outlives_the_run_ttl_unless_the_model_ttl_says_otherwise(deployment):
    maker, store, inference, data_dir = deployment
    with_model = await add_run(maker, store, inference, status="succeeded", age=10 * DAYS, model=True)
    failed = await add_run(maker, store, inference, status="failed", age=10 * DAYS, model=False)
    assert await sweeper(maker, store, inference, data_dir, "a", run_ttl_days=7).sweep_once() == 1
    assert list(store.list(failed.artifacts_prefix)) == []
    assert list(store.list(with_model.artifacts_prefix)) != []
    assert await sweeper(maker, store, inference, data_dir, "a").sweep_once() == 0  # off by default
    assert await sweeper(maker, store, inference, data_dir, "a", model_ttl_days=30).sweep_once() == 0
    assert await sweeper(maker, store, inference, data_dir, "a", model_ttl_days=9).sweep_once() == 1
    assert list(store.list(with_model.artifacts_prefix)) == []
