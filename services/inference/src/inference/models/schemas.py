"""HTTP shapes of the models API; they are public, so they live in ``common.contracts``."""

from __future__ import annotations

from common.contracts import ModelDetail, ModelPage, TokenCreated, TokenInfo

__all__ = ["ModelDetail", "ModelPage", "TokenCreated", "TokenInfo"]
