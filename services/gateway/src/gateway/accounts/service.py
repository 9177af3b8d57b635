"""Sign-up, log-in, sessions and API keys as plain functions over a database session."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from common.errors import Conflict, NotFound, Unauthorized
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts import repository as repo
from gateway.accounts.models import ApiKey, BrowserSession, User
from gateway.accounts.secrets import API_KEY_PREFIX, hash_password, new_token, token_hash, verify_password

# Writing last_used_at on every request would make each read a write; once a minute is enough to see use.
_TOUCH_EVERY = timedelta(minutes=1)


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time this service stores or answers is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def sign_up(session: AsyncSession, *, email: str, password: str) -> User:
    email = normalize_email(email)
    if await repo.get_user_by_email(session, email) is not None:
        raise Conflict("an account with this email exists; log in instead", code="email_taken")
    password_hash = await asyncio.to_thread(hash_password, password)
    user = User(id=uuid.uuid4().hex, email=email, password_hash=password_hash, created_at=now())
    try:
        await repo.add(session, user)
    except IntegrityError as e:  # a concurrent sign-up with the same email won the race
        raise Conflict("an account with this email exists; log in instead", code="email_taken") from e
    return user


async def log_in(session: AsyncSession, *, email: str, password: str) -> User:
    user = await repo.get_user_by_email(session, normalize_email(email))
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if user is None or not ok:
        raise Unauthorized("wrong email or password", code="bad_credentials")
    return user


@dataclass(frozen=True)
class NewSession:
    cookie: str
    csrf_token: str
    expires_at: datetime


async def start_session(session: AsyncSession, *, user_id: str, ttl: timedelta) -> NewSession:
    cookie, csrf = new_token(), new_token()
    started = now()
    row = BrowserSession(
        id_hash=token_hash(cookie),
        user_id=user_id,
        csrf_hash=token_hash(csrf),
        created_at=started,
        expires_at=started + ttl,
    )
    await repo.add(session, row)
    return NewSession(cookie=cookie, csrf_token=csrf, expires_at=row.expires_at)


async def resolve_session(session: AsyncSession, cookie: str) -> BrowserSession | None:
    row = await repo.get_browser_session(session, token_hash(cookie))
    if row is None or aware(row.expires_at) <= now():
        return None
    return row


def csrf_matches(row: BrowserSession, given: str) -> bool:
    return bool(given) and secrets.compare_digest(row.csrf_hash, token_hash(given))


async def end_session(session: AsyncSession, cookie: str) -> None:
    await repo.delete_browser_session(session, token_hash(cookie))


async def create_api_key(session: AsyncSession, *, user_id: str, name: str) -> tuple[ApiKey, str]:
    key = new_token(API_KEY_PREFIX)
    row = ApiKey(
        id=uuid.uuid4().hex[:16],
        user_id=user_id,
        name=name.strip() or "key",
        prefix=key[:10],
        key_hash=token_hash(key),
        created_at=now(),
    )
    await repo.add(session, row)
    return row, key


async def resolve_api_key(session: AsyncSession, key: str) -> ApiKey | None:
    row = await repo.get_api_key_by_hash(session, token_hash(key))
    if row is None or row.revoked_at is not None:
        return None
    moment = now()
    if row.last_used_at is None or moment - aware(row.last_used_at) > _TOUCH_EVERY:
        await repo.touch_api_key(session, row.id, moment)
    return row


async def revoke_api_key(session: AsyncSession, *, user_id: str, key_id: str) -> None:
    row = await repo.get_api_key(session, user_id=user_id, key_id=key_id)
    if row is None:
        raise NotFound(f"no API key {key_id!r}; list yours with GET /api/v1/keys")
    if row.revoked_at is None:
        row.revoked_at = now()
        await session.flush()
