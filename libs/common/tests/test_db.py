"""The database layer on SQLite and on a real Postgres: engine, sessions, Alembic migrations from code."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from common.db import create_engine, create_sessionmaker, make_base, ping, session_scope, upgrade_database
from sqlalchemy import String, select, text
from sqlalchemy.orm import Mapped, mapped_column

Base = make_base()


class Widget(Base):
    __tablename__ = "widgets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


MIGRATION = """
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None


def upgrade():
    op.create_table(
        "widgets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), unique=True),
    )


def downgrade():
    op.drop_table("widgets")
"""

ENV = """
from sqlalchemy import MetaData
from common.db import run_alembic_env

run_alembic_env(MetaData())
"""


@pytest.fixture
def migrations_dir(tmp_path) -> Path:
    d = tmp_path / "migrations"
    (d / "versions").mkdir(parents=True)
    (d / "env.py").write_text(ENV)
    (d / "script.py.mako").write_text("")
    (d / "versions" / "0001_widgets.py").write_text(MIGRATION)
    return d


async def test_ping_answers_on_a_live_database(database_url):
    engine = create_engine(database_url)
    await ping(engine)
    await engine.dispose()


async def test_migrations_create_tables_and_record_the_version_per_service(database_url, migrations_dir):
    await asyncio.to_thread(
        upgrade_database,
        migrations_dir=migrations_dir,
        url=database_url,
        version_table="alembic_version_widgets",
    )
    await asyncio.to_thread(
        upgrade_database,
        migrations_dir=migrations_dir,
        url=database_url,
        version_table="alembic_version_widgets",
    )
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version_widgets"))).scalar_one()
    await engine.dispose()
    assert version == "0001"


async def test_session_scope_commits_on_success_and_rolls_back_on_error(database_url, migrations_dir):
    await asyncio.to_thread(
        upgrade_database,
        migrations_dir=migrations_dir,
        url=database_url,
        version_table="alembic_version_widgets",
    )
    engine = create_engine(database_url)
    maker = create_sessionmaker(engine)

    async for session in session_scope(maker):
        session.add(Widget(name="kept"))

    with pytest.raises(RuntimeError):
        async for session in session_scope(maker):
            session.add(Widget(name="dropped"))
            await session.flush()
            raise RuntimeError("boom")

    async with maker() as session:
        names = (await session.execute(select(Widget.name))).scalars().all()
    await engine.dispose()
    assert names == ["kept"]
