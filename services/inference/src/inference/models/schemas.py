"""HTTP shapes of the models API that are not shared contracts (those are in ``common.contracts``)."""

from __future__ import annotations

from datetime import datetime

from common.contracts import ModelCard, ModelOut, TokenOut
from pydantic import BaseModel, ConfigDict


class ModelDetail(ModelOut):
    card: ModelCard


class ModelPage(BaseModel):
    items: list[ModelOut]
    total: int


class TokenCreated(TokenOut):
    """``TokenOut`` plus the id that revokes it."""

    id: str


class TokenInfo(BaseModel):
    """A token as listed: never the token itself, only its display prefix."""

    model_config = ConfigDict(protected_namespaces=())

    id: str
    model_id: str
    prefix: str
    created_at: datetime
    revoked: bool
    revoked_at: datetime | None = None
