"""Fixtures shared by every test suite: a real Postgres and a real S3 API server, started once per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from common.store import LocalStore, S3Store
from common.testing.postgres import PostgresServer, start_postgres
from common.testing.s3 import ACCESS_KEY, SECRET_KEY, S3Server, start_s3

# Services fail closed (production) unless told otherwise; the test harness says so explicitly, and the
# processes the tests start inherit it. Tests of production behaviour pass environment="production".
os.environ.setdefault("TRAINYARD_ENVIRONMENT", "test")
# A trainer prepares its default backbone at start (torch, seconds of CPU); the tests that mean it say so.
os.environ.setdefault("TRAINYARD_TRAINER_PREPARE_BACKBONES", "[]")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's Postgres, for one test."""
    return postgres_server.url(postgres_server.create_database())


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = start_s3()
    yield server
    server.stop()


@pytest.fixture
def s3_store(s3_server: S3Server) -> S3Store:
    """An S3Store on a fresh bucket of the moto server."""
    return S3Store(
        endpoint=s3_server.endpoint,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        bucket=f"t-{uuid.uuid4().hex[:16]}",
        region="us-east-1",
    )


@pytest.fixture(params=["local", "s3"])
def any_store(request, tmp_path) -> LocalStore | S3Store:
    """Each test that takes this runs once per backend."""
    if request.param == "local":
        return LocalStore(tmp_path / "objects")
    return request.getfixturevalue("s3_store")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    """Each test that takes this runs once on SQLite and once on a fresh Postgres database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("postgres_url")
