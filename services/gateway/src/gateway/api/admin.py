"""Operators' routes: admins only (``gateway.auth.current_admin``), passed to the service that owns them."""

from __future__ import annotations

from common.maintenance import MaintenanceChange, MaintenanceState
from fastapi import APIRouter, Request

from gateway.api.forward import forward
from gateway.auth import CurrentAdmin

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/maintenance", response_model=MaintenanceState, operation_id="get_maintenance")
async def get_maintenance(request: Request, admin: CurrentAdmin):
    """Whether maintenance is on, why, since when and by whom, and how many runs wait or still run."""
    return await forward(request, request.app.state.clients.trainer, "/admin/maintenance", owner=admin)


@router.put("/maintenance", response_model=MaintenanceState, operation_id="set_maintenance")
async def set_maintenance(body: MaintenanceChange, request: Request, admin: CurrentAdmin):
    """Turn maintenance on or off on every trainer replica. While on, creating a run answers 503 with
    `Retry-After` and the reason; running runs finish; queued runs stay queued and start once it is off."""
    trainer = request.app.state.clients.trainer
    return await forward(request, trainer, "/admin/maintenance", owner=admin, json_body=body)
