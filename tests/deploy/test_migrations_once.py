"""Migrations run once (``python -m <service>.migrate``); in production a service only checks the schema."""

from __future__ import annotations

import asyncio
import importlib
import os
import runpy
import secrets
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from common.db import create_engine, upgrade_database
from common.migrate import SchemaOutdated, check_schema, head_revision, migrate
from inference.main import MIGRATIONS as INFERENCE_MIGRATIONS
from inference.main import create_app as create_inference
from inference.settings import Settings as InferenceSettings

SERVICES = ("gateway", "dataset", "trainer", "inference")
STRONG = secrets.token_urlsafe(32)


def production(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "TRAINYARD_ENVIRONMENT": "production",
        "TRAINYARD_INTERNAL_TOKEN": STRONG,
        "TRAINYARD_GATEWAY_AUTH_MODE": "multi_user",
        "TRAINYARD_DATABASE_URL": database_url,
        "TRAINYARD_DATA_DIR": str(tmp_path),
    }


def run_migrate(service: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"{service}.migrate"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_production_refuses_an_unmigrated_database_then_serves_after_the_migrations_step(
    postgres_url, tmp_path
):
    database_url = postgres_url
    settings = InferenceSettings(
        environment="production", internal_token=STRONG, database_url=database_url, data_dir=tmp_path
    )
    app = create_inference(settings)
    with pytest.raises(SchemaOutdated, match="python -m inference.migrate"):
        async with app.router.lifespan_context(app):
            pass

    done = await asyncio.to_thread(run_migrate, "inference", production(database_url, tmp_path))
    assert done.returncode == 0, done.stderr
    assert "inference: schema migrated empty -> 0001" in done.stdout

    app = create_inference(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://inf") as client:
            ready = await client.get("/readyz")
    assert ready.status_code == 200


def run_migrate_in_process(service: str, monkeypatch, env: dict[str, str]) -> int:
    """``python -m <service>.migrate`` without a new interpreter: the same module, run as __main__."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings_module = importlib.import_module(f"{service}.settings")
    settings_module.get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            runpy.run_module(f"{service}.migrate", run_name="__main__")
    finally:
        settings_module.get_settings.cache_clear()
    return exited.value.code


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_migrations_step_that_is_idempotent(
    service, postgres_url, tmp_path, monkeypatch, capsys
):
    env = production(postgres_url, tmp_path)
    assert run_migrate_in_process(service, monkeypatch, env) == 0
    assert run_migrate_in_process(service, monkeypatch, env) == 0
    out = capsys.readouterr().out
    assert f"{service}: schema migrated empty -> " in out
    assert f"{service}: schema already at" in out


def test_the_migrations_step_fails_closed_too(postgres_url, tmp_path, monkeypatch):
    env = {**production(postgres_url, tmp_path), "TRAINYARD_INTERNAL_TOKEN": ""}
    code = run_migrate_in_process("gateway", monkeypatch, env)  # SettingsRefused is a SystemExit
    assert isinstance(code, str)
    assert "trainyard gateway: refusing to start" in code
    assert "TRAINYARD_INTERNAL_TOKEN" in code


@pytest.fixture
def newer_migrations(tmp_path) -> Path:
    """The inference migrations plus one more revision: the next release's code."""
    directory = tmp_path / "migrations"
    shutil.copytree(INFERENCE_MIGRATIONS, directory, ignore=shutil.ignore_patterns("__pycache__"))
    (directory / "versions" / "0002_next.py").write_text(
        'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "0002"\ndown_revision = "0001"\n'
        "branch_labels = None\ndepends_on = None\n\n\ndef upgrade() -> None:\n"
        '    op.add_column("models", sa.Column("note", sa.String(10), nullable=True))\n\n\n'
        "def downgrade() -> None:\n"
        '    op.drop_column("models", "note")\n'
    )
    return directory


async def test_a_schema_older_than_the_code_is_refused(database_url, newer_migrations):
    await asyncio.to_thread(
        upgrade_database,
        migrations_dir=INFERENCE_MIGRATIONS,
        url=database_url,
        version_table="alembic_version_inference",
    )
    assert head_revision(newer_migrations) == "0002"
    engine = create_engine(database_url)
    try:
        with pytest.raises(SchemaOutdated, match="at revision 0001, this release needs 0002"):
            await check_schema(engine=engine, migrations_dir=newer_migrations, service_name="inference")
    finally:
        await engine.dispose()


async def test_a_schema_newer_than_the_code_is_served_so_a_rollback_works(database_url, newer_migrations):
    await asyncio.to_thread(
        upgrade_database,
        migrations_dir=newer_migrations,
        url=database_url,
        version_table="alembic_version_inference",
    )
    engine = create_engine(database_url)
    try:
        revision = await check_schema(
            engine=engine, migrations_dir=INFERENCE_MIGRATIONS, service_name="inference"
        )
    finally:
        await engine.dispose()
    assert revision == "0002"


@pytest.mark.timeout(120)  # without the lock, concurrent DDL deadlocks or collides
def test_migrators_that_start_together_take_turns_on_postgres(postgres_url, tmp_path):
    """Several pods' migrate steps at once (e.g. init containers): an advisory lock serializes them."""
    settings = InferenceSettings(
        environment="production", internal_token=STRONG, database_url=postgres_url, data_dir=tmp_path
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: migrate(settings, INFERENCE_MIGRATIONS), range(4)))
    assert sorted(str(before) for before, _ in results) == ["0001", "0001", "0001", "None"]
    assert {after for _, after in results} == {"0001"}
