"""Gateway: the only public entry. Accounts, routing to the internal services, the web app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from common.app import create_service_app
from common.clients import DatasetClient, InferenceClient, TrainerClient
from common.store import ObjectStore
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import web
from gateway.accounts.repository import ensure_user
from gateway.accounts.router import router as accounts_router
from gateway.accounts.service import now
from gateway.api.admin import router as admin_router
from gateway.api.docs import ERRORS, docs_router, install_openapi
from gateway.api.predictions import PredictionForwarder
from gateway.api.routes import router as api_router
from gateway.ratelimit import RateLimiter, RateLimitMiddleware
from gateway.settings import Settings, get_settings

API_PREFIX = "/api/v1"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


@dataclass
class Clients:
    datasets: DatasetClient
    trainer: TrainerClient
    inference: InferenceClient

    async def aclose(self) -> None:
        for client in (self.datasets, self.trainer, self.inference):
            await client.aclose()


def create_app(
    settings: Settings | None = None, *, engine: AsyncEngine | None = None, store: ObjectStore | None = None
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        args = {"internal_token": settings.internal_token, "timeout": settings.http_timeout_s}
        app.state.clients = Clients(
            datasets=DatasetClient(settings.dataset_url, **args),
            trainer=TrainerClient(settings.trainer_url, **args),
            inference=InferenceClient(settings.inference_url, **args),
        )
        app.state.predictions = PredictionForwarder(
            settings.inference_url, internal_token=settings.internal_token, timeout_s=settings.http_timeout_s
        )
        async with app.state.sessionmaker() as session:
            await ensure_user(session, user_id=settings.local_user, now=now())
            await session.commit()
        try:
            yield
        finally:
            await app.state.clients.aclose()
            await app.state.predictions.aclose()

    app = create_service_app(
        settings=settings,
        title="Trainyard",
        routers=[],
        migrations_dir=MIGRATIONS,
        lifespan=lifespan,
        engine=engine,
        store=store,
        public_docs=True,
        builtin_docs=False,
    )
    for router in (accounts_router, api_router, admin_router):
        app.include_router(router, prefix=API_PREFIX, responses=ERRORS)
        # /api/... stays as an undocumented alias of /api/v1/... for scripts written before v1.
        app.include_router(router, prefix="/api", include_in_schema=False)
    app.include_router(docs_router)
    install_openapi(app, prefix=API_PREFIX)
    app.include_router(web.router)
    app.state.rate_limiter = RateLimiter()
    app.add_middleware(RateLimitMiddleware, settings=settings, limiter=app.state.rate_limiter)
    return app
