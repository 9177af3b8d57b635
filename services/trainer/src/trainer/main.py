"""Trainer service: the run queue, its dispatcher and executors. The training code is in trainer.training."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from common.app import create_service_app
from common.clients import DatasetClient, InferenceClient
from common.store import ObjectStore
from fastapi import FastAPI
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from trainer.admin.router import router as admin_router
from trainer.backbone_preparation import BackbonePreparation
from trainer.dispatcher import RunDispatcher
from trainer.executors.base import Executor
from trainer.executors.local import LocalExecutor
from trainer.runs.changes import RunChanges
from trainer.runs.retention import RetentionSweeper
from trainer.runs.router import router, worker_router
from trainer.runs.worker_objects import objects_router
from trainer.settings import Settings, get_settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build_executor(settings: Settings) -> Executor:
    if settings.executor == "kubernetes":
        from trainer.executors.kubernetes.executor import KubernetesExecutor

        return KubernetesExecutor(settings=settings)
    return LocalExecutor(settings=settings)


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    store: ObjectStore | None = None,
    dispatch: bool = True,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client_args = {"internal_token": settings.internal_token, "timeout": settings.http_timeout_s}
        app.state.datasets = DatasetClient(settings.dataset_url, **client_args)
        app.state.inference = InferenceClient(settings.inference_url, **client_args)
        app.state.executor = executor = build_executor(settings)
        app.state.preparation = BackbonePreparation(settings=settings, store=app.state.store)
        app.state.dispatcher = RunDispatcher(
            settings=settings,
            sessionmaker=app.state.sessionmaker,
            store=app.state.store,
            executor=executor,
            inference=app.state.inference,
            ready=app.state.preparation.ready if dispatch else None,
            changes=app.state.run_changes,
        )
        app.state.preparation.on_ready = app.state.dispatcher.wake
        app.state.retention = RetentionSweeper(
            settings=settings,
            sessionmaker=app.state.sessionmaker,
            store=app.state.store,
            inference=app.state.inference,
            executor=executor,
        )
        tasks = []
        if dispatch:
            tasks.append(asyncio.create_task(app.state.preparation.run()))
            tasks.append(asyncio.create_task(app.state.dispatcher.run_forever()))
            if app.state.retention.enabled:
                tasks.append(asyncio.create_task(app.state.retention.run_forever()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await executor.shutdown()
            await app.state.datasets.aclose()
            await app.state.inference.aclose()

    app = create_service_app(
        settings=settings,
        title="Trainyard trainer",
        routers=[router, worker_router, admin_router, objects_router],
        migrations_dir=MIGRATIONS,
        lifespan=lifespan,
        engine=engine,
        store=store,
    )
    app.state.run_changes = RunChanges()
    app.state.event_streams = Gauge(
        "trainyard_run_event_streams", "Run event streams (SSE) open now", registry=app.state.metrics_registry
    )
    return app
