"""Request and response bodies of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}$"


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=EMAIL_PATTERN, max_length=254, examples=["ada@example.com"])
    password: str = Field(min_length=10, max_length=256, description="at least 10 characters")


class UserOut(BaseModel):
    id: str
    email: str | None = Field(description="null for the local user of single-user mode")
    created_at: datetime


class Me(BaseModel):
    """Who the caller is, and how the gateway knows."""

    user: UserOut
    auth_mode: Literal["single_user", "multi_user"]
    via: Literal["local", "session", "api_key"]
    csrf_token: str | None = Field(
        None, description="send as X-CSRF-Token on unsafe requests made with the session cookie"
    )


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["laptop script"])


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="the first characters of the key, to tell keys apart")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="shown once; only its hash is stored. Send as `Authorization: Bearer <key>`")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
