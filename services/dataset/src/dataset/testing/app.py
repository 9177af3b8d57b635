from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from common.contracts import INTERNAL_TOKEN_HEADER, OWNER_HEADER
from common.store import ObjectStore

from dataset.main import create_app
from dataset.settings import Settings

INTERNAL_TOKEN = "test-internal-token"


def owner_headers(owner: str = "alice") -> dict[str, str]:
    return {INTERNAL_TOKEN_HEADER: INTERNAL_TOKEN, OWNER_HEADER: owner}


def make_settings(*, data_dir: Path, database_url: str, **overrides) -> Settings:
    return Settings(
        environment="test",
        data_dir=data_dir,
        database_url=database_url,
        internal_token=INTERNAL_TOKEN,
        log_json=False,
        **overrides,
    )


@asynccontextmanager
async def serve(settings: Settings, *, store: ObjectStore | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, lifespan included, behind httpx's ASGI transport; ``client.app`` reaches its state."""
    app = create_app(settings, store=store, sweep=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://dataset", timeout=120) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def post_dataset(
    client: httpx.AsyncClient, filename: str, content: bytes, *, owner: str = "alice", **fields: str
) -> httpx.Response:
    return await client.post(
        "/datasets", headers=owner_headers(owner), files={"file": (filename, content)}, data=fields
    )


def report_of(response: httpx.Response) -> dict:
    """The health report of an accepted (201/200) or rejected (422) upload."""
    body = response.json()
    if response.status_code == 422:
        return body["error"]["detail"]["report"]
    return body["report"]


def codes_of(response: httpx.Response) -> set[str]:
    return set(report_of(response)["problem_counts"])
