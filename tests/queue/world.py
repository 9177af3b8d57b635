"""A trainer deployment for the queue's tests and bench/queue.py: one database, an object store (a
LocalStore unless told otherwise), the trainer API served by real uvicorn on loopback (workers report
to it and reach their objects through it over HTTP), the real inference app
(in process), and any number of dispatchers, each a trainer instance with its own id and local executor
running real worker processes (``trainer.testing.tiny_worker`` unless told otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from common.clients import InferenceClient
from common.db import create_engine, create_sessionmaker, upgrade_database
from common.settings import LOCAL_INTERNAL_TOKEN
from common.store import LocalStore, ObjectStore
from common.testing.ports import free_port
from common.testing.serving import serve_in_loop
from inference.main import create_app as create_inference_app
from inference.settings import Settings as InferenceSettings
from onnx import TensorProto, helper, numpy_helper
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from trainer.dispatcher import RunDispatcher
from trainer.executors.local import LocalExecutor
from trainer.main import MIGRATIONS
from trainer.main import create_app as create_trainer_app
from trainer.runs import repository as repo
from trainer.runs.models import Run
from trainer.settings import Settings as TrainerSettings

TINY_WORKER = ["-m", "trainer.testing.tiny_worker"]
MODEL_KEY = "pretrained/tiny-worker/tiny.onnx"  # a run may read pretrained/ (object_scope)


def tiny_onnx() -> bytes:
    """input [N,3,16,16] -> mean over H,W -> [N,3] x [3,2] -> logits: a model inference can register."""
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input"], ["pooled"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["pooled", "w"], ["logits"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])],
        initializer=[numpy_helper.from_array(np.ones((3, 2), dtype=np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model.SerializeToString()


@dataclass
class World:
    tmp: Path
    maker: async_sessionmaker[AsyncSession]
    store: ObjectStore
    inference: InferenceClient
    trainer_url: str
    dispatchers: list[RunDispatcher] = field(default_factory=list)

    def settings(self, **overrides) -> TrainerSettings:
        values = {
            "environment": "test",
            "data_dir": self.tmp,
            "trainer_url": self.trainer_url,
            "worker_command": TINY_WORKER,
            "dispatch_interval_s": 0.2,
            "lease_s": 3.0,
            "heartbeat_s": 0.5,
            "log_json": False,
            "local_warm_worker": False,  # each attempt its own fresh process; test_warm_worker turns it on
        }
        return TrainerSettings(**(values | overrides))

    def dispatcher(
        self, *, instance_id: str | None = None, ready: asyncio.Event | None = None, **overrides
    ) -> RunDispatcher:
        settings = self.settings(instance_id=instance_id or f"trainer-{uuid.uuid4().hex[:6]}", **overrides)
        dispatcher = RunDispatcher(
            settings=settings,
            sessionmaker=self.maker,
            store=self.store,
            executor=LocalExecutor(settings=settings),
            inference=self.inference,
            ready=ready,
        )
        self.dispatchers.append(dispatcher)
        return dispatcher

    async def add_runs(self, count: int, **config) -> list[str]:
        config = {"model_from": MODEL_KEY} | config
        runs = [new_run(config=config, age_s=count - i) for i in range(count)]
        async with self.maker() as session:
            session.add_all(runs)
            await session.commit()
        return [r.id for r in runs]

    async def run(self, run_id: str) -> Run:
        async with self.maker() as session:
            run = await repo.get_run(session, run_id=run_id)
            assert run is not None
            return run

    async def wait(
        self, run_ids: list[str], predicate, *, within: float = 60.0, tick: float = 0.1
    ) -> list[Run]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            runs = [await self.run(r) for r in run_ids]
            if all(predicate(r) for r in runs):
                return runs
            if asyncio.get_running_loop().time() > deadline:
                states = [(r.id[:8], r.status, r.attempts, r.progress) for r in runs if not predicate(r)]
                raise TimeoutError(f"runs not there after {within}s: {states[:5]}")
            await asyncio.sleep(tick)


def new_run(*, config: dict, age_s: float = 0, owner: str = "alice", dataset_id: str = "d1") -> Run:
    run_id = uuid.uuid4().hex
    return Run(
        id=run_id,
        owner=owner,
        dataset_id=dataset_id,
        task="image",
        status="queued",
        config=config,
        attempts=0,
        progress={},
        metrics={},
        manifest_key=f"datasets/{dataset_id}/manifest.json",
        artifacts_prefix=f"runs/{run_id}/",
        created_at=datetime.fromtimestamp(datetime.now(UTC).timestamp() - age_s, UTC),
    )


@asynccontextmanager
async def serve_trainer_api(settings: TrainerSettings, *, engine, store) -> AsyncIterator[None]:
    """The trainer app (no dispatcher of its own) on a real uvicorn server in this event loop."""
    app = create_trainer_app(settings, engine=engine, store=store, dispatch=False)
    port = int(settings.trainer_url.rsplit(":", 1)[1])
    async with serve_in_loop(app, port):
        yield


@asynccontextmanager
async def open_world(
    database_url: str, tmp: Path, *, store: ObjectStore | None = None, **api_settings
) -> AsyncIterator[World]:
    """``api_settings`` override the trainer API's settings (not the dispatchers')."""
    await asyncio.to_thread(
        upgrade_database, migrations_dir=MIGRATIONS, url=database_url, version_table="alembic_version_trainer"
    )
    engine = create_engine(database_url)
    store = store or LocalStore(tmp / "objects")
    store.put_bytes(MODEL_KEY, tiny_onnx())
    inference_app = create_inference_app(
        InferenceSettings(
            environment="test",
            data_dir=tmp,
            database_url=f"sqlite+aiosqlite:///{tmp / 'inference.db'}",
            log_json=False,
        ),
        store=store,
    )
    trainer_url = f"http://127.0.0.1:{free_port()}"
    world = None
    async with inference_app.router.lifespan_context(inference_app):
        inference = InferenceClient(
            "http://inference",
            internal_token=LOCAL_INTERNAL_TOKEN,
            transport=httpx.ASGITransport(inference_app),
        )
        world = World(
            tmp=tmp,
            maker=create_sessionmaker(engine),
            store=store,
            inference=inference,
            trainer_url=trainer_url,
        )
        try:
            async with serve_trainer_api(world.settings(**api_settings), engine=engine, store=store):
                yield world
        finally:
            for dispatcher in world.dispatchers:
                await dispatcher.executor.shutdown()
            await inference.aclose()
    await engine.dispose()


@contextlib.asynccontextmanager
async def ticking(*dispatchers, interval: float = 0.05):
    """Run the dispatchers' loops concurrently, like trainer instances, until the block ends."""

    async def loop(dispatcher):
        while True:
            await dispatcher.tick()
            await asyncio.sleep(interval)

    tasks = [asyncio.create_task(loop(d)) for d in dispatchers]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
