"""Operators' endpoints (internal token; the gateway exposes them to admins only)."""

from __future__ import annotations

from typing import Annotated

from common.contracts import OWNER_HEADER
from common.deps import InternalDep, SessionDep
from common.maintenance import MaintenanceChange, MaintenanceState
from fastapi import APIRouter, Header, Request

from trainer.admin import maintenance
from trainer.backbone_preparation import PreparationOut

router = APIRouter(prefix="/admin", dependencies=[InternalDep], tags=["admin"])


@router.get("/maintenance")
async def get_maintenance(session: SessionDep, request: Request) -> MaintenanceState:
    return await maintenance.state(session, settings=request.app.state.settings)


@router.put("/maintenance")
async def set_maintenance(
    body: MaintenanceChange,
    session: SessionDep,
    request: Request,
    owner: Annotated[str | None, Header(alias=OWNER_HEADER)] = None,
) -> MaintenanceState:
    """Turn maintenance on or off for every replica; answers the state now in force (a replica started
    with TRAINYARD_TRAINER_MAINTENANCE=true stays on whatever the switch says: ``source`` tells)."""
    return await maintenance.change(
        session, body=body, by=(owner or "operator")[:64], settings=request.app.state.settings
    )


@router.get("/backbones")
async def get_backbone_preparation(request: Request) -> PreparationOut:
    """The default backbones' preparation at this replica's start (``prepare_backbones``): whether it is
    over, and each backbone's state."""
    return request.app.state.preparation.out()
