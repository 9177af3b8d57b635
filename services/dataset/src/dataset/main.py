"""Dataset service: uploads validated, explained and stored; browse, download and delete them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from common.app import create_service_app
from common.decode_budget import MIB, install_decode_gate
from common.store import ObjectStore
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from dataset.datasets.router import router
from dataset.datasets.sweeper import sweep_forever
from dataset.settings import Settings, get_settings
from dataset.validation.images import configure_pillow

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    store: ObjectStore | None = None,
    sweep: bool = True,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_pillow(max_pixels=settings.limits.image_max_pixels)
        install_decode_gate(
            budget_bytes=settings.decode_budget_mib * MIB, max_concurrent=settings.max_concurrent_decodes
        )
        await asyncio.to_thread(settings.resolved_work_dir.mkdir, parents=True, exist_ok=True)
        app.state.validation_slots = asyncio.Semaphore(settings.max_concurrent_validations)
        task = None
        if sweep:
            task = asyncio.create_task(
                sweep_forever(
                    store=app.state.store,
                    sessionmaker=app.state.sessionmaker,
                    work_dir=settings.resolved_work_dir,
                    interval_s=settings.sweep_interval_s,
                    grace_s=settings.sweep_grace_s,
                )
            )
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return create_service_app(
        settings=settings,
        title="Trainyard datasets",
        routers=[router],
        migrations_dir=MIGRATIONS,
        lifespan=lifespan,
        engine=engine,
        store=store,
    )
