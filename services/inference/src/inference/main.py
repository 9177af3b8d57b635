"""Inference service: registered models, their tokens, and ONNX Runtime prediction keyed by model token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from common.app import create_service_app
from common.decode_budget import MIB, install_decode_gate
from common.store import ObjectStore
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from inference.models import repository
from inference.models.router import router as models_router
from inference.predict.auth import TokenCache, authorized
from inference.predict.metrics import InferenceMetrics
from inference.predict.router import router as predict_router
from inference.predict.server import ModelServer
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
        install_decode_gate(
            budget_bytes=settings.decode_budget_mib * MIB, max_concurrent=settings.max_concurrent_decodes
        )
        metrics: InferenceMetrics = app.state.inference_metrics
        app.state.server = ModelServer(store=app.state.store, settings=settings, metrics=metrics)
        app.state.token_cache = TokenCache(
            ttl_s=settings.token_cache_ttl_s,
            capacity=settings.token_cache_size,
            on_lookup=metrics.token_lookup,
        )
        async with app.state.sessionmaker() as session:
            for row in await repository.recently_served_models(session, limit=settings.session_cache_size):
                # In the background: the service is ready at once; a request for a model still
                # loading shares that load.
                app.state.server.warm(authorized(row))
        try:
            yield
        finally:
            app.state.server.close()

    app = create_service_app(
        settings=settings,
        title="Trainyard inference",
        routers=[models_router, predict_router],
        migrations_dir=MIGRATIONS,
        lifespan=lifespan,
        engine=engine,
        store=store,
    )
    app.state.inference_metrics = InferenceMetrics(app.state.metrics_registry)
    return app
