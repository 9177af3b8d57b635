from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from common.db import ping


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        """What this service uses answers: its database, and its object store if it has one."""
        checks: dict[str, str] = {}
        probes = [("database", lambda: ping(request.app.state.engine))]
        if getattr(request.app.state, "store", None) is not None:
            probes.append(("store", lambda: asyncio.to_thread(request.app.state.store.ping)))
        for name, check in probes:
            try:
                await asyncio.wait_for(check(), timeout=5)
                checks[name] = "ok"
            except Exception as e:  # noqa: BLE001 - readiness reports any failure, it doesn't handle it
                checks[name] = f"failed: {type(e).__name__}: {e}"[:300]
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
        )

    return router
