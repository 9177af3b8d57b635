"""Prometheus metrics: one registry per app, request latency by route, and an operator-only ``/metrics``.

Each app has its own ``CollectorRegistry`` (not the process-wide default), so several apps in one
process (tests) never collide. ``/metrics`` is for operators, never for the public: it answers only a
caller holding the internal token, sent as ``Authorization: Bearer <internal token>`` (what a
Prometheus scrape config's ``authorization`` block sends) or as ``X-Trainyard-Internal-Token``.
"""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.contracts import INTERNAL_TOKEN_HEADER
from common.errors import Unauthorized

# Seconds; dense below 250 ms, where the serving targets are.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED_ROUTE = "unmatched"


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry, *, service: str) -> None:
        self.service = service
        self.latency = Histogram(
            "trainyard_http_request_duration_seconds",
            "Time from request start to the end of the response body, by route template",
            ["service", "method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


class MetricsMiddleware:
    """Observes every HTTP request's latency, labelled by route template (bounded cardinality)."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
            self.metrics.latency.labels(
                self.metrics.service, scope.get("method", ""), route, str(status)
            ).observe(time.perf_counter() - start)


def require_operator(request: Request) -> None:
    expected = request.app.state.settings.internal_token.encode()
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    given = (
        credentials.strip() if scheme.lower() == "bearer" else request.headers.get(INTERNAL_TOKEN_HEADER, "")
    )
    if not hmac.compare_digest(given.encode(), expected):
        raise Unauthorized(
            "metrics are for operators: send 'Authorization: Bearer <internal token>' "
            "(the TRAINYARD_INTERNAL_TOKEN of this deployment)"
        )


def metrics_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        require_operator(request)
        return Response(generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)

    return router
