from __future__ import annotations

from functools import lru_cache
from typing import Literal

from common.settings import ServiceSettings
from pydantic import Field


class Settings(ServiceSettings):
    service_name = "gateway"

    auth_mode: Literal["single_user"] = Field(
        "single_user", description="single_user: every request acts as `local_user` (embedded mode)"
    )
    local_user: str = "local"


@lru_cache
def get_settings() -> Settings:
    return Settings()
