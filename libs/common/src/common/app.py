"""The app factory every service shares: logging, errors, request ids, health, engine, store, migrations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db import create_engine, create_sessionmaker, upgrade_database
from common.errors import install_error_handlers
from common.health import health_router
from common.logging import RequestIdMiddleware, configure_logging
from common.metrics import HttpMetrics, MetricsMiddleware, metrics_router
from common.migrate import check_schema, version_table
from common.settings import ServiceSettings
from common.store import ObjectStore, store_from_settings

log = logging.getLogger(__name__)

ServiceLifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    routers: Sequence[APIRouter],
    migrations_dir: Path | None,
    lifespan: ServiceLifespan | None = None,
    engine: AsyncEngine | None = None,
    store: ObjectStore | None = None,
    public_docs: bool = False,
    builtin_docs: bool = True,
) -> FastAPI:
    """Build a service app. Nothing connects until the lifespan runs.

    ``engine`` and ``store`` may be injected (tests); otherwise they are built from ``settings``.
    ``lifespan`` is the service's own start/stop work, run after the engine, migrations and store are up.
    ``app.state.metrics_registry`` is the app's Prometheus registry, served at the operator-only
    ``/metrics``; a service registers its own metrics there when it builds the app.
    ``builtin_docs=False`` leaves /docs to the service (the gateway serves its own, offline).
    """

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(
            service=settings.service_name, level=settings.log_level, json_lines=settings.log_json
        )
        app.state.settings = settings
        app.state.engine = engine or create_engine(settings.resolved_database_url)
        app.state.sessionmaker = create_sessionmaker(app.state.engine)
        if migrations_dir is not None and settings.migrates_on_start:
            await asyncio.to_thread(
                upgrade_database,
                migrations_dir=migrations_dir,
                url=app.state.engine.url.render_as_string(hide_password=False),
                version_table=version_table(settings.service_name),
            )
        elif migrations_dir is not None:
            await check_schema(
                engine=app.state.engine, migrations_dir=migrations_dir, service_name=settings.service_name
            )
        app.state.store = None
        if settings.uses_store:
            app.state.store = store or await asyncio.to_thread(store_from_settings, settings)
        log.info("%s ready", settings.service_name)
        try:
            if lifespan is not None:
                async with lifespan(app):
                    yield
            else:
                yield
        finally:
            if engine is None:
                await app.state.engine.dispose()

    app = FastAPI(
        title=title,
        lifespan=app_lifespan,
        docs_url="/docs" if builtin_docs and (public_docs or settings.environment != "production") else None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.state.metrics_registry = CollectorRegistry()
    app.add_middleware(
        MetricsMiddleware, metrics=HttpMetrics(app.state.metrics_registry, service=settings.service_name)
    )
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health_router())
    app.include_router(metrics_router())
    for router in routers:
        app.include_router(router)
    return app
