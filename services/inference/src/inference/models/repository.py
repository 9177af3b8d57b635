"""Every query on models and model tokens. Callers own the transaction: nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from inference.models.models import Model, ModelToken


async def add_model(session: AsyncSession, model: Model) -> Model:
    """Raises ``IntegrityError`` when the owner already registered this run."""
    session.add(model)
    await session.flush()
    return model


async def get_owned_model(session: AsyncSession, *, owner: str, model_id: str) -> Model | None:
    query = select(Model).where(Model.id == model_id, Model.owner == owner)
    return (await session.execute(query)).scalar_one_or_none()


async def get_model_for_run(session: AsyncSession, *, owner: str, run_id: str) -> Model | None:
    query = select(Model).where(Model.owner == owner, Model.run_id == run_id)
    return (await session.execute(query)).scalar_one_or_none()


async def list_owned_models(
    session: AsyncSession, *, owner: str, limit: int, offset: int
) -> tuple[Sequence[Model], int]:
    total = (
        await session.execute(select(func.count()).select_from(Model).where(Model.owner == owner))
    ).scalar_one()
    query = (
        select(Model)
        .where(Model.owner == owner)
        .order_by(Model.created_at.desc(), Model.id)
        .limit(limit)
        .offset(offset)
    )
    return (await session.execute(query)).scalars().all(), total


async def delete_model(session: AsyncSession, model: Model) -> None:
    # Tokens go explicitly rather than by the FK cascade alone, so no backend setting decides it.
    await session.execute(delete(ModelToken).where(ModelToken.model_id == model.id))
    await session.delete(model)
    await session.flush()


async def add_token(session: AsyncSession, token: ModelToken) -> ModelToken:
    session.add(token)
    await session.flush()
    return token


async def list_model_tokens(session: AsyncSession, *, model_id: str) -> Sequence[ModelToken]:
    query = (
        select(ModelToken)
        .where(ModelToken.model_id == model_id)
        .order_by(ModelToken.created_at, ModelToken.id)
    )
    return (await session.execute(query)).scalars().all()


async def get_model_token(session: AsyncSession, *, model_id: str, token_id: str) -> ModelToken | None:
    query = select(ModelToken).where(ModelToken.id == token_id, ModelToken.model_id == model_id)
    return (await session.execute(query)).scalar_one_or_none()


async def find_live_token(session: AsyncSession, *, token_hash: str) -> tuple[ModelToken, Model] | None:
    """The unrevoked token with this hash and its model, or None."""
    query = (
        select(ModelToken, Model)
        .join(Model, Model.id == ModelToken.model_id)
        .where(ModelToken.token_hash == token_hash, ModelToken.revoked_at.is_(None))
    )
    row = (await session.execute(query)).one_or_none()
    return None if row is None else (row[0], row[1])


def revoke(token: ModelToken, *, at: datetime) -> None:
    if token.revoked_at is None:
        token.revoked_at = at


async def recently_served_models(session: AsyncSession, *, limit: int) -> Sequence[Model]:
    """The most recently created models that have at least one live token: the ones to warm at start."""
    live = select(ModelToken.model_id).where(ModelToken.revoked_at.is_(None))
    query = select(Model).where(Model.id.in_(live)).order_by(Model.created_at.desc(), Model.id).limit(limit)
    return (await session.execute(query)).scalars().all()
