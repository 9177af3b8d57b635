"""One embedded platform (four real uvicorn processes, SQLite, local store) shared by the edge tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from common.embedded import SERVICES, Stack
from common.testing.ports import free_port


@pytest.fixture(scope="package")
def edge_stack(tmp_path_factory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("edge")
    stack = Stack(
        ports={name: free_port() for name in SERVICES}, data_dir=data_dir, log_dir=data_dir / "logs"
    )
    try:
        # A generous gateway timeout: the hostile-image test decodes half-gigabyte images on a shared
        # 2-core machine; it measures memory, not latency.
        env = {
            "TRAINYARD_ENVIRONMENT": "test",
            "TRAINYARD_LOG_JSON": "true",
            "TRAINYARD_HTTP_TIMEOUT_S": "300",
        }
        stack.start(extra_env=env)
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def api(edge_stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=edge_stack.gateway_url, timeout=60) as client:
        yield client


def unhandled_errors(stack: Stack) -> list[str]:
    """Log lines of unhandled exceptions in any service since it started."""
    assert stack.log_dir is not None
    lines = []
    for name in SERVICES:
        path = stack.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        lines += [
            f"{name}: {line[:300]}"
            for line in text.splitlines()
            if "unhandled error" in line or "Exception in ASGI" in line
        ]
    return lines
