from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from common.store import LocalStore
from inference.testing import new_token, register, serve, write_artifacts


@pytest.fixture
def local_store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "objects")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'inference.db'}"


@pytest.fixture
async def client(sqlite_url, local_store, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    """The app on SQLite and a LocalStore, for behaviour that does not depend on the backends."""
    async with serve(database_url=sqlite_url, store=local_store, tmp_path=tmp_path) as c:
        yield c


@pytest.fixture
async def served_model(client, local_store) -> dict:
    """Run r-1 registered by alice, with one live token: {"model": ModelOut, "token": TokenCreated}."""
    model = await register(client, write_artifacts(local_store, run_id="r-1"))
    token = await new_token(client, model["id"])
    return {"model": model, "token": token}
