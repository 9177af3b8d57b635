"""The four services as real uvicorn processes, once on embedded defaults and once on Postgres + S3."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from common.embedded import SERVICES, Stack
from common.testing.ports import free_port


@pytest.fixture(scope="module", params=["embedded", "postgres+s3"])
def stack(request, tmp_path_factory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("trainyard")
    extra = {"TRAINYARD_ENVIRONMENT": "test", "TRAINYARD_LOG_JSON": "true"}
    if request.param == "postgres+s3":
        pg = request.getfixturevalue("postgres_server")
        s3 = request.getfixturevalue("s3_server")
        extra.update(s3.env(bucket=f"e2e-{uuid.uuid4().hex[:12]}"))
        for name in SERVICES:
            extra[f"TRAINYARD_{name.upper()}_DATABASE_URL"] = pg.url(pg.create_database())
    stack = Stack(
        ports={name: free_port() for name in SERVICES}, data_dir=data_dir, log_dir=data_dir / "logs"
    )
    try:
        stack.start(extra_env=extra)
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=120) as client:
        yield client


@pytest.fixture(scope="session")
def multi_stack(tmp_path_factory) -> Iterator[Stack]:
    """The embedded platform in multi-user mode, shared by the accounts and browser tests."""
    data_dir = tmp_path_factory.mktemp("multi-user")
    extra = {
        "TRAINYARD_ENVIRONMENT": "test",
        "TRAINYARD_GATEWAY_AUTH_MODE": "multi_user",
    }
    stack = Stack(ports={n: free_port() for n in SERVICES}, data_dir=data_dir, log_dir=data_dir / "logs")
    try:
        stack.start(extra_env=extra)
        yield stack
    finally:
        stack.stop()
