"""The run queue's speed: claims per second on Postgres, and queued -> running latency of the local
executor with real worker processes.

1. Claims/s: ``--runs`` queued runs in a fresh Postgres (Debian's, started here), drained by
   ``--claimers`` concurrent claimers (each its own connection), exactly as the dispatcher claims
   (``repository.claim_runs``: conditional UPDATE with FOR UPDATE SKIP LOCKED, the attempt rows and
   their tokens, the claim's own commit asynchronous), once with one run per transaction (a dispatcher
   with one free slot) and once with ``--batch`` (one with that many free slots). Checked: every run
   claimed exactly once. Baseline in the same run: the same number of plain single-row UPDATEs by
   primary key, one per (synchronous) transaction.
2. Latency: ``--latency-runs`` runs queued one at a time into a trainer instance (a real dispatcher
   with the local executor, default settings: dispatch_interval_s = 1, woken when a run is queued, as
   the runs API does); from the commit of the queued run to (a) 'running' and (b) the worker's first
   event (its process is up and reporting with its token). Workers are ``trainer.testing.tiny_worker``.

    uv run python bench/queue.py [--runs 2000] [--claimers 8] [--batch 8] [--latency-runs 20]

Named like the standard library's ``queue``: every bench script imports ``_bench_path`` first, which
takes bench/ off sys.path, so this file shadows nothing (tests/test_bench_scripts.py checks each one).
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from common.db import create_engine, create_sessionmaker, upgrade_database
from common.testing.postgres import start_postgres
from sqlalchemy import func, select, update
from trainer.main import MIGRATIONS
from trainer.runs import repository as repo
from trainer.runs.models import Run, RunAttempt

from tests.queue.world import new_run, open_world


async def seeded(url: str, runs: int):
    await asyncio.to_thread(
        upgrade_database, migrations_dir=MIGRATIONS, url=url, version_table="alembic_version_trainer"
    )
    engine = create_engine(url)
    maker = create_sessionmaker(engine)
    async with maker() as session:
        session.add_all([new_run(config={}, age_s=runs - i) for i in range(runs)])
        await session.commit()
    return engine, maker


async def claims_per_second(url: str, *, runs: int, claimers: int, batch: int) -> float:
    """Claimers each take up to ``batch`` runs per transaction (the dispatcher takes as many as it has
    free slots) until the queue is empty; every run must be claimed exactly once."""
    engine, maker = await seeded(url, runs)

    async def claimer() -> int:
        count = 0
        async with maker() as session:
            while True:
                claims = await repo.claim_runs(
                    session, limit=batch, executor="local", instance_id="bench", lease_s=30, token_ttl_s=3600
                )
                await session.commit()
                if not claims:
                    return count
                count += len(claims)

    start = time.perf_counter()
    counts = await asyncio.gather(*(claimer() for _ in range(claimers)))
    claim_s = time.perf_counter() - start
    async with maker() as session:
        attempts = (await session.execute(select(func.count()).select_from(RunAttempt))).scalar_one()
        distinct = (await session.execute(select(func.count(func.distinct(RunAttempt.run_id))))).scalar_one()
        running = (
            await session.execute(select(func.count()).select_from(Run).where(Run.status == "running"))
        ).scalar_one()
    assert sum(counts) == attempts == distinct == running == runs, (sum(counts), attempts, distinct, runs)
    await engine.dispose()
    return runs / claim_s


async def plain_updates_per_second(url: str, *, runs: int, claimers: int) -> float:
    """Baseline: one plain UPDATE by primary key per transaction (default synchronous commit), same
    number of connections: the floor of any claim that commits once per run."""
    engine, maker = await seeded(url, runs)
    async with maker() as session:
        ids = list((await session.execute(select(Run.id))).scalars())
    chunks = [ids[i::claimers] for i in range(claimers)]

    async def updater(chunk: list[str]) -> None:
        async with maker() as session:
            for run_id in chunk:
                await session.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=repo.now()))
                await session.commit()

    start = time.perf_counter()
    await asyncio.gather(*(updater(c) for c in chunks))
    update_s = time.perf_counter() - start
    await engine.dispose()
    return runs / update_s


async def latency(url: str, *, count: int) -> tuple[list[float], list[float]]:
    to_running, to_first_event = [], []
    with tempfile.TemporaryDirectory() as tmp:
        async with open_world(url, Path(tmp)) as world:
            dispatcher = world.dispatcher(
                instance_id="bench", dispatch_interval_s=1.0, lease_s=30, heartbeat_s=10
            )
            loop = asyncio.create_task(dispatcher.run_forever())
            try:
                for _ in range(count):
                    (run_id,) = await world.add_runs(1, epochs=1)
                    start = time.perf_counter()
                    dispatcher.wake()
                    running = first = None
                    while first is None:
                        run = await world.run(run_id)
                        now = time.perf_counter() - start
                        if running is None and run.status != "queued":
                            running = now
                        if run.progress.get("type") not in (None, "phase") or run.progress.get(
                            "phase"
                        ) not in (
                            None,
                            "queued",
                            "starting",
                        ):
                            first = now
                        await asyncio.sleep(0.005)
                    to_running.append(running)
                    to_first_event.append(first)
                    await world.wait([run_id], lambda r: r.status in ("succeeded", "failed"), within=60)
            finally:
                loop.cancel()
    return to_running, to_first_event


def describe(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    median = statistics.median(values)
    return f"median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--claimers", type=int, default=8)
    parser.add_argument(
        "--batch",
        type=int,
        default=8,
        help="runs per claim, as a dispatcher with this many free slots claims",
    )
    parser.add_argument("--latency-runs", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    server = start_postgres()
    try:
        fresh = lambda: server.url(server.create_database())  # noqa: E731 - one database per measurement
        updates = await plain_updates_per_second(fresh(), runs=args.runs, claimers=args.claimers)
        print(
            f"baseline, plain UPDATE by id, one per transaction: {updates:.0f}/s "
            f"({args.runs} rows, {args.claimers} connections)"
        )
        for batch in sorted({1, args.batch}):
            claims = await claims_per_second(fresh(), runs=args.runs, claimers=args.claimers, batch=batch)
            print(
                f"claims on Postgres, up to {batch} per transaction: {claims:.0f} claims/s "
                f"({args.runs} runs, {args.claimers} claimers, each claimed exactly once; "
                f"{claims / updates:.2f}x the baseline); target >= 500 claims/s"
            )
        running, first = await latency(fresh(), count=args.latency_runs)
        print(
            f"queued -> running (local executor, {args.latency_runs} runs): {describe(running)}; target 1 s"
        )
        print(f"queued -> first event from the worker process: {describe(first)}")
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
