"""Contracts of the maintenance switch (the trainer stores it; the gateway exposes it to admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

MAINTENANCE_CODE = "maintenance"


class MaintenanceChange(BaseModel):
    """Turn maintenance on or off. While on, new runs are refused with 503 + ``Retry-After``; running runs
    finish; queued runs stay queued (none is started) until it is turned off."""

    enabled: bool
    reason: str | None = Field(
        None, max_length=500, description="shown to users whose new runs are refused (default: a generic one)"
    )
    retry_after_s: int | None = Field(
        None,
        ge=1,
        le=7 * 24 * 3600,
        description="the Retry-After sent with each refusal (default: the setting)",
    )


class MaintenanceState(BaseModel):
    enabled: bool
    source: Literal["off", "switch", "setting"] = Field(
        description="switch: turned on through the admin endpoint (stored, shared by every trainer replica); "
        "setting: forced on by TRAINYARD_TRAINER_MAINTENANCE on this replica"
    )
    reason: str
    retry_after_s: int
    changed_at: datetime | None = None
    changed_by: str | None = None
    queued_runs: int = Field(description="runs waiting; none of them starts while maintenance is on")
    running_runs: int = Field(description="runs still finishing")
