from __future__ import annotations

from functools import lru_cache
from typing import Literal

from common.settings import ServiceSettings, load_settings
from pydantic import Field


class Settings(ServiceSettings):
    service_name = "gateway"
    uses_store = False

    auth_mode: Literal["single_user", "multi_user"] = Field(
        "single_user",
        description="single_user: a request without credentials acts as `local_user` (embedded mode); "
        "multi_user: sign-up, log-in and API keys, and every request must carry one of them",
    )
    local_user: str = "local"
    admins: list[str] = Field(
        default_factory=list,
        description="accounts (user ids or emails) allowed to use /api/v1/admin (maintenance); in "
        "single_user mode the local user is one",
    )
    session_ttl_hours: float = Field(24 * 14, gt=0)
    cookie_secure: bool | None = Field(None, description="Secure cookies; default: on in production")
    key_rate_limit_per_minute: int = Field(600, ge=0, description="per API key, model token or session")
    ip_rate_limit_per_minute: int = Field(1200, ge=0, description="per client address; 0 turns it off")
    login_attempts_per_minute: int = Field(10, ge=0, description="log-in and sign-up tries per address")

    def production_problems(self) -> list[str]:
        if self.auth_mode == "single_user":
            return [
                "TRAINYARD_GATEWAY_AUTH_MODE is single_user, where a request without credentials acts as "
                "the local user; set it to multi_user"
            ]
        return []

    @property
    def secure_cookies(self) -> bool:
        return self.environment == "production" if self.cookie_secure is None else self.cookie_secure


@lru_cache
def get_settings() -> Settings:
    return load_settings(Settings)
