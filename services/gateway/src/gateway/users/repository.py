from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.users.models import User


async def ensure_user(session: AsyncSession, *, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        user = User(id=user_id, created_at=datetime.now(UTC))
        session.add(user)
        await session.flush()
    return user
