"""The run queue on SQLite and on Postgres: claiming is atomic, oldest first, and counts attempts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from common.db import create_engine, create_sessionmaker, upgrade_database
from trainer.runs import repository as repo
from trainer.runs.models import Run

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


@pytest.fixture
async def maker(database_url):
    await asyncio.to_thread(
        upgrade_database, migrations_dir=MIGRATIONS, url=database_url, version_table="alembic_version_trainer"
    )
    engine = create_engine(database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


def make_run(*, owner: str = "alice", age_s: int = 0, status: str = "queued") -> Run:
    run_id = uuid.uuid4().hex
    return Run(
        id=run_id,
        owner=owner,
        dataset_id="d1",
        task="image",
        status=status,
        config={},
        attempts=0,
        progress={},
        metrics={},
        manifest_key="datasets/d1/manifest.json",
        artifacts_prefix=f"runs/{run_id}/",
        created_at=datetime.now(UTC) - timedelta(seconds=age_s),
    )


async def claim_one_run(session):
    return await repo.claim_next_run(
        session, executor="local", instance_id="test", lease_s=30, token_ttl_s=3600
    )


async def test_claim_takes_the_oldest_queued_run_and_counts_the_attempt(maker):
    async with maker() as session:
        newer, older = make_run(age_s=1), make_run(age_s=10)
        session.add_all([newer, older, make_run(age_s=20, status="succeeded")])
        await session.commit()
    async with maker() as session:
        claim = await claim_one_run(session)
        await session.commit()
    claimed = claim.run
    assert claimed.id == older.id
    assert claim.attempt.token_hash == repo.hash_token(claim.token) != claim.token
    assert (claimed.status, claimed.attempts, claimed.executor) == ("running", 1, "local")
    assert claimed.started_at is not None


async def test_claim_on_an_empty_queue_returns_none(maker):
    async with maker() as session:
        assert await claim_one_run(session) is None


async def test_concurrent_claims_never_take_the_same_run(maker):
    async with maker() as session:
        session.add_all([make_run(age_s=i) for i in range(5)])
        await session.commit()

    async def claim_one():
        async with maker() as session:
            claim = await claim_one_run(session)
            await session.commit()
            return claim.run.id if claim else None

    claimed = [c for c in await asyncio.gather(*(claim_one() for _ in range(8))) if c]
    assert len(claimed) == len(set(claimed))
    async with maker() as session:
        running = await repo.runs_in_status(session, status="running")
    assert {r.id for r in running} == set(claimed)


async def test_runs_are_scoped_to_their_owner(maker):
    async with maker() as session:
        mine = make_run(owner="alice")
        session.add_all([mine, make_run(owner="bob")])
        await session.commit()
    async with maker() as session:
        assert await repo.get_owned_run(session, owner="bob", run_id=mine.id) is None
        rows, total = await repo.list_owned_runs(session, owner="alice", limit=10, offset=0)
    assert total == 1 and rows[0].id == mine.id


async def test_a_retried_run_keeps_the_start_of_its_first_attempt(maker):
    async with maker() as session:
        run = make_run()
        session.add(run)
        await session.commit()
    async with maker() as session:
        first = (await claim_one_run(session)).run
        await session.commit()
        first_start = first.started_at
        first.status = "queued"  # what a requeue after a crash does
        await session.commit()
    await asyncio.sleep(0.01)
    async with maker() as session:
        second = (await claim_one_run(session)).run
        await session.commit()
        await session.refresh(second)
    assert second.attempts == 2
    assert second.started_at == first_start
