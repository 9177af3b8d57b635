"""Every query on data sets. Callers own the transaction: nothing here commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dataset.datasets.models import Dataset


async def add_dataset(session: AsyncSession, dataset: Dataset) -> Dataset:
    session.add(dataset)
    await session.flush()
    return dataset


async def get_owned_dataset(session: AsyncSession, *, owner: str, dataset_id: str) -> Dataset | None:
    query = select(Dataset).where(Dataset.id == dataset_id, Dataset.owner == owner)
    return (await session.execute(query)).scalar_one_or_none()


async def find_by_upload_key(session: AsyncSession, *, owner: str, upload_key: str) -> Dataset | None:
    query = select(Dataset).where(Dataset.owner == owner, Dataset.upload_key == upload_key)
    return (await session.execute(query)).scalar_one_or_none()


async def list_owned_datasets(
    session: AsyncSession, *, owner: str, limit: int, offset: int
) -> tuple[Sequence[Dataset], int]:
    total = (
        await session.execute(select(func.count()).select_from(Dataset).where(Dataset.owner == owner))
    ).scalar_one()
    query = (
        select(Dataset)
        .where(Dataset.owner == owner)
        .order_by(Dataset.created_at.desc(), Dataset.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return (await session.execute(query)).scalars().all(), total


async def delete_dataset(session: AsyncSession, *, dataset_id: str) -> None:
    await session.execute(delete(Dataset).where(Dataset.id == dataset_id))


async def existing_ids(session: AsyncSession, *, ids: Iterable[str]) -> set[str]:
    wanted = list(ids)
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update((await session.execute(select(Dataset.id).where(Dataset.id.in_(chunk)))).scalars())
    return found
