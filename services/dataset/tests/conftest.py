from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from common.store import LocalStore
from dataset.testing.app import make_settings, serve


@pytest.fixture
def local_store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "objects")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'dataset.db'}"


@pytest.fixture
async def client(tmp_path, sqlite_url, local_store) -> AsyncIterator[httpx.AsyncClient]:
    """The app on SQLite and a LocalStore with default limits (behaviour that does not depend on backends)."""
    async with serve(make_settings(data_dir=tmp_path, database_url=sqlite_url), store=local_store) as c:
        yield c
