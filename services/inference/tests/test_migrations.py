"""Migration 0001 builds exactly the tables the ORM models describe, on SQLite and Postgres."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from common.db import create_engine, downgrade_database, upgrade_database
from inference.main import MIGRATIONS
from inference.models.models import Base
from sqlalchemy import inspect

VERSION_TABLE = "alembic_version_inference"


async def test_migrated_schema_matches_the_models(database_url):
    await asyncio.to_thread(
        upgrade_database, migrations_dir=MIGRATIONS, url=database_url, version_table=VERSION_TABLE
    )
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True, "version_table": VERSION_TABLE}),
                Base.metadata,
            )
        )
    await engine.dispose()
    assert diff == []


async def test_downgrade_removes_the_tables(database_url):
    for step in (upgrade_database, downgrade_database):
        await asyncio.to_thread(
            step, migrations_dir=MIGRATIONS, url=database_url, version_table=VERSION_TABLE
        )
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    assert tables & {"models", "model_tokens"} == set()
