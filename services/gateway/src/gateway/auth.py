"""Who is calling: an API key (Bearer), a browser session (cookie + CSRF header), or, in single-user mode
only, the local user. Every route that touches owned data depends on `CurrentUser`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from common.deps import SessionDep
from common.errors import Forbidden, Unauthorized
from fastapi import Depends, Request

from gateway.accounts import repository, service
from gateway.accounts.secrets import API_KEY_PREFIX
from gateway.ratelimit import SESSION_COOKIE

CSRF_COOKIE = "trainyard_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    user_id: str
    via: Literal["local", "session", "api_key"]
    session_cookie: str | None = None


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def _refuse_cross_site(request: Request) -> None:
    """Browsers send Origin on cross-site unsafe requests; a page elsewhere must not act for the user."""
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("cross-site requests are refused; use the Trainyard web app or an API key")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden("cross-origin requests are refused; use the Trainyard web app or an API key")
    if origin == "null":
        raise Forbidden("requests from an opaque origin are refused; use an API key")


async def current_principal(request: Request, session: SessionDep) -> Principal:
    settings = request.app.state.settings
    token = _bearer(request)
    if token is not None:
        key = await service.resolve_api_key(session, token) if token.startswith(API_KEY_PREFIX) else None
        if key is None:
            raise Unauthorized("this API key is unknown or revoked; create one under /api/v1/keys")
        return Principal(user_id=key.user_id, via="api_key")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        row = await service.resolve_session(session, cookie)
        if row is not None:
            _refuse_cross_site(request)
            if request.method not in SAFE_METHODS and not service.csrf_matches(
                row, request.headers.get(CSRF_HEADER, "")
            ):
                raise Forbidden(
                    f"missing or wrong {CSRF_HEADER} header; send the csrf_token from GET /api/v1/auth/me",
                    code="csrf_failed",
                )
            return Principal(user_id=row.user_id, via="session", session_cookie=cookie)
    if settings.auth_mode == "single_user":
        _refuse_cross_site(request)
        return Principal(user_id=settings.local_user, via="local")
    raise Unauthorized(
        "sign in, or send an API key as `Authorization: Bearer <key>`", code="not_authenticated"
    )


def current_user(principal: Annotated[Principal, Depends(current_principal)]) -> str:
    return principal.user_id


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentUser = Annotated[str, Depends(current_user)]


async def current_admin(principal: CurrentPrincipal, session: SessionDep, request: Request) -> str:
    """The caller's user id if it may operate the platform: listed in ``admins`` (by id or email), or
    the local user of single-user mode. 403 otherwise."""
    settings = request.app.state.settings
    admins = set(settings.admins)
    if principal.via == "local" or principal.user_id in admins:
        return principal.user_id
    user = await repository.get_user(session, principal.user_id) if admins else None
    if (
        user is not None
        and user.email
        and service.normalize_email(user.email) in {service.normalize_email(a) for a in admins}
    ):
        return principal.user_id
    raise Forbidden(
        "this is for operators: ask one to add your account to TRAINYARD_GATEWAY_ADMINS",
        code="not_an_admin",
    )


CurrentAdmin = Annotated[str, Depends(current_admin)]
