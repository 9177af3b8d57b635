"""FastAPI dependencies every service uses: the request's session, the object store, the caller."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from common.contracts import INTERNAL_TOKEN_HEADER, OWNER_HEADER
from common.db import session_scope
from common.errors import Unauthorized
from common.store import ObjectStore


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in session_scope(request.app.state.sessionmaker):
        yield session


def get_store(request: Request) -> ObjectStore:
    return request.app.state.store


def require_internal(request: Request) -> None:
    """Services behind the gateway accept only callers holding the shared internal token."""
    given = request.headers.get(INTERNAL_TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode(), request.app.state.settings.internal_token.encode()):
        raise Unauthorized(
            f"missing or wrong {INTERNAL_TOKEN_HEADER}: this service is internal, call the gateway"
        )


def get_owner(request: Request) -> str:
    owner = request.headers.get(OWNER_HEADER, "").strip()
    if not owner:
        raise Unauthorized(f"missing {OWNER_HEADER}: requests must come through the gateway")
    return owner


# scope="function": the commit happens before the response is sent, so a 2xx means the row is there.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
StoreDep = Annotated[ObjectStore, Depends(get_store)]
OwnerDep = Annotated[str, Depends(get_owner)]
InternalDep = Depends(require_internal)
