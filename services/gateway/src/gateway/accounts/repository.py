"""Every query on the accounts tables. Nothing here commits: the request boundary does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.models import ApiKey, BrowserSession, User


async def get_user(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def ensure_user(session: AsyncSession, *, user_id: str, now: datetime) -> User:
    user = await session.get(User, user_id)
    if user is None:
        user = User(id=user_id, created_at=now)
        session.add(user)
        await session.flush()
    return user


async def add(session: AsyncSession, row: User | BrowserSession | ApiKey) -> None:
    session.add(row)
    await session.flush()


async def get_browser_session(session: AsyncSession, id_hash: str) -> BrowserSession | None:
    return await session.get(BrowserSession, id_hash)


async def delete_browser_session(session: AsyncSession, id_hash: str) -> None:
    row = await session.get(BrowserSession, id_hash)
    if row is not None:
        await session.delete(row)
        await session.flush()


async def get_api_key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    query = select(ApiKey).where(ApiKey.key_hash == key_hash)
    return (await session.execute(query)).scalar_one_or_none()


async def get_api_key(session: AsyncSession, *, user_id: str, key_id: str) -> ApiKey | None:
    query = select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id)
    return (await session.execute(query)).scalar_one_or_none()


async def list_api_keys(session: AsyncSession, *, user_id: str) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at.desc(), ApiKey.id)
    return list((await session.execute(query)).scalars())


async def touch_api_key(session: AsyncSession, key_id: str, now: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
