"""/auth (sign-up, log-in, log-out, who am I) and /keys (API keys)."""

from __future__ import annotations

from datetime import timedelta

from common.deps import SessionDep
from common.errors import Forbidden, TooManyRequests
from common.ids import ResourceId
from fastapi import APIRouter, Request, Response

from gateway.accounts import repository as repo
from gateway.accounts import service
from gateway.accounts.models import ApiKey, User
from gateway.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    Credentials,
    Me,
    UserOut,
)
from gateway.auth import CSRF_COOKIE, CurrentPrincipal, CurrentUser, Principal
from gateway.ratelimit import SESSION_COOKIE

router = APIRouter(tags=["accounts"])


def _user_out(user: User) -> UserOut:
    return UserOut(id=user.id, email=user.email, created_at=service.aware(user.created_at))


def _key_out(row: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=service.aware(row.created_at),
        last_used_at=row.last_used_at and service.aware(row.last_used_at),
        revoked_at=row.revoked_at and service.aware(row.revoked_at),
    )


def _throttle_login(request: Request, email: str) -> None:
    settings = request.app.state.settings
    limiter = request.app.state.rate_limiter
    ip = request.client.host if request.client else "unknown"
    per_minute = settings.login_attempts_per_minute
    wait = limiter.hit("login-ip", ip, per_minute=per_minute) or limiter.hit(
        "login-email", service.normalize_email(email), per_minute=per_minute
    )
    if wait:
        raise TooManyRequests(f"too many sign-in attempts; retry in {wait} s", retry_after=wait)


def _require_multi_user(request: Request) -> None:
    if request.app.state.settings.auth_mode != "multi_user":
        raise Forbidden(
            "accounts are off: this Trainyard runs in single-user mode (TRAINYARD_GATEWAY_AUTH_MODE)",
            code="single_user_mode",
        )


async def _sign_in(request: Request, response: Response, session: SessionDep, user: User) -> Me:
    settings = request.app.state.settings
    ttl = timedelta(hours=settings.session_ttl_hours)
    new = await service.start_session(session, user_id=user.id, ttl=ttl)
    common = {"max_age": int(ttl.total_seconds()), "secure": settings.secure_cookies, "path": "/"}
    response.set_cookie(SESSION_COOKIE, new.cookie, httponly=True, samesite="lax", **common)
    response.set_cookie(CSRF_COOKIE, new.csrf_token, httponly=False, samesite="strict", **common)
    return Me(user=_user_out(user), auth_mode=settings.auth_mode, via="session", csrf_token=new.csrf_token)


@router.post("/auth/signup", status_code=201, operation_id="sign_up", openapi_extra={"security": []})
async def sign_up(body: Credentials, request: Request, response: Response, session: SessionDep) -> Me:
    """Create an account and sign in (multi-user mode). Sets the session and CSRF cookies."""
    _require_multi_user(request)
    _throttle_login(request, body.email)
    user = await service.sign_up(session, email=body.email, password=body.password)
    return await _sign_in(request, response, session, user)


@router.post("/auth/login", operation_id="log_in", openapi_extra={"security": []})
async def log_in(body: Credentials, request: Request, response: Response, session: SessionDep) -> Me:
    """Sign in with email and password. Sets the session and CSRF cookies. Throttled per address and email."""
    _require_multi_user(request)
    _throttle_login(request, body.email)
    user = await service.log_in(session, email=body.email, password=body.password)
    return await _sign_in(request, response, session, user)


@router.post("/auth/logout", status_code=204, operation_id="log_out")
async def log_out(principal: CurrentPrincipal, response: Response, session: SessionDep) -> None:
    """End this browser session (the cookie stops working at once)."""
    if principal.session_cookie:
        await service.end_session(session, principal.session_cookie)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.get("/auth/me", operation_id="get_me")
async def me(principal: CurrentPrincipal, request: Request, session: SessionDep) -> Me:
    """Who the caller is. For a browser session, also the CSRF token to send on unsafe requests."""
    settings = request.app.state.settings
    user = await repo.get_user(session, principal.user_id)
    if user is None:  # the local user is created at start-up; a session's user cannot vanish
        user = await repo.ensure_user(session, user_id=principal.user_id, now=service.now())
    return Me(
        user=_user_out(user),
        auth_mode=settings.auth_mode,
        via=principal.via,
        csrf_token=request.cookies.get(CSRF_COOKIE) if principal.via == "session" else None,
    )


@router.post("/keys", status_code=201, operation_id="create_api_key")
async def create_api_key(body: ApiKeyCreate, user: CurrentUser, session: SessionDep) -> ApiKeyCreated:
    """A new API key for scripts. The key is in this answer only; store it now."""
    row, key = await service.create_api_key(session, user_id=user, name=body.name)
    return ApiKeyCreated(**_key_out(row).model_dump(), key=key)


@router.get("/keys", operation_id="list_api_keys")
async def list_api_keys(user: CurrentUser, session: SessionDep) -> ApiKeyList:
    return ApiKeyList(items=[_key_out(row) for row in await repo.list_api_keys(session, user_id=user)])


@router.delete("/keys/{key_id}", status_code=204, operation_id="revoke_api_key")
async def revoke_api_key(key_id: ResourceId, user: CurrentUser, session: SessionDep) -> None:
    """Revoke a key: requests with it answer 401 from now on."""
    await service.revoke_api_key(session, user_id=user, key_id=key_id)


__all__ = ["router", "Principal"]
