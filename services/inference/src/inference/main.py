"""Inference service: registered models, their tokens, and ONNX Runtime prediction keyed by model token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from common.app import create_service_app
from common.store import ObjectStore
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from inference.models.router import router as models_router
from inference.predict.router import router as predict_router
from inference.predict.sessions import OnnxSessionCache
from inference.settings import Settings, get_settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    store: ObjectStore | None = None,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.sessions = OnnxSessionCache(
            store=app.state.store,
            capacity=settings.session_cache_size,
            intra_op_threads=settings.intra_op_threads,
        )
        yield

    return create_service_app(
        settings=settings,
        title="Trainyard inference",
        routers=[models_router, predict_router],
        migrations_dir=MIGRATIONS,
        lifespan=lifespan,
        engine=engine,
        store=store,
    )
