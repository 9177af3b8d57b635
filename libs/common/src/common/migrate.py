"""Migrations run once, before the servers; a service only checks the schema version at start.

``python -m <service>.migrate`` applies a service's Alembic migrations (the Helm chart runs it as a
pre-install/pre-upgrade Job, the kustomize base as a Job). In production a service does not migrate at
start: replicas would race. It reads its version table and refuses to serve a schema older than its
code (``SchemaOutdated``). A schema *newer* than the code (after a rollback of the release) is served
with a warning: migrations are additive, so release N-1 runs on schema N.
In local and test mode services still migrate at start, so ``make up`` stays one command.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db import _alembic_config, create_engine, upgrade_database
from common.settings import ServiceSettings

log = logging.getLogger(__name__)


class SchemaOutdated(RuntimeError):
    """The database is behind the code: run the migrations step before starting the service."""


def version_table(service_name: str) -> str:
    return f"alembic_version_{service_name}"


def head_revision(migrations_dir: Path) -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(migrations_dir, "sqlite://", "unused"))
    head = script.get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations in {migrations_dir}")
    return head


def _known_revisions(migrations_dir: Path) -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(migrations_dir, "sqlite://", "unused"))
    return {rev.revision for rev in script.walk_revisions()}


async def current_revision(engine: AsyncEngine, table: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection) -> str | None:
        return MigrationContext.configure(connection, opts={"version_table": table}).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def check_schema(*, engine: AsyncEngine, migrations_dir: Path, service_name: str) -> str:
    """Return the database's revision, or raise ``SchemaOutdated`` if the code needs a newer one."""
    table = version_table(service_name)
    current = await current_revision(engine, table)
    head = head_revision(migrations_dir)
    if current == head:
        return current
    hint = (
        f"run `python -m {service_name}.migrate` (the Helm chart's migrations Job does) with the same "
        f"TRAINYARD_DATABASE_URL, then start the service again"
    )
    if current is None:
        raise SchemaOutdated(f"{service_name}: the database has no schema (no {table} table); {hint}")
    if current in _known_revisions(migrations_dir):
        raise SchemaOutdated(
            f"{service_name}: the database schema is at revision {current}, this release needs {head}; {hint}"
        )
    log.warning(
        "%s: database schema %s is newer than this release's %s (a rollback?); serving on it",
        service_name,
        current,
        head,
    )
    return current


def _lock_key(service_name: str) -> int:
    digest = hashlib.sha256(f"trainyard-migrate-{service_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def migrate(settings: ServiceSettings, migrations_dir: Path) -> tuple[str | None, str]:
    """Apply every pending migration; return (revision before, revision after). Blocking.

    On Postgres the upgrade holds an advisory lock per service, so migrators that start together (two
    Jobs, or several pods' init containers) run one after the other: the later ones find the schema
    current and do nothing.
    """
    url = settings.resolved_database_url
    table = version_table(settings.service_name)

    async def run() -> tuple[str | None, str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as lock:
                postgres = lock.dialect.name == "postgresql"
                key = {"key": _lock_key(settings.service_name)}
                if postgres:
                    await lock.execute(text("SELECT pg_advisory_lock(:key)"), key)
                    await lock.commit()
                try:
                    before = await current_revision(engine, table)
                    await asyncio.to_thread(
                        upgrade_database, migrations_dir=migrations_dir, url=url, version_table=table
                    )
                    return before, await current_revision(engine, table)
                finally:
                    if postgres:
                        await lock.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                        await lock.commit()
        finally:
            await engine.dispose()

    return asyncio.run(run())


def migrate_main(settings: ServiceSettings, migrations_dir: Path) -> int:
    """The body of every ``<service>.migrate`` module."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    before, after = migrate(settings, migrations_dir)
    if before == after:
        print(f"{settings.service_name}: schema already at {after}", flush=True)
    else:
        print(f"{settings.service_name}: schema migrated {before or 'empty'} -> {after}", flush=True)
    return 0
