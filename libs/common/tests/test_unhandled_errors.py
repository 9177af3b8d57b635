"""An unhandled error answers a 500 in the shared error shape, with one request id in the header, the body
and the log line, and the keep-alive connection stays usable (a real uvicorn server, a real client)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from common.errors import install_error_handlers
from common.logging import JsonFormatter, RequestIdMiddleware
from common.testing.ports import free_port, wait_for_port
from fastapi import FastAPI


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("test"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def broken_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/fine")
    async def fine() -> dict[str, bool]:
        return {"ok": True}

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(broken_app(), host="127.0.0.1", port=port, log_config=None, lifespan="off")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)


@pytest.fixture
def errors_log() -> Iterator[Collect]:
    handler = Collect()
    logger = logging.getLogger("trainyard.errors")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_a_500_carries_one_request_id_in_header_body_and_log(server, errors_log):
    with httpx.Client(base_url=server) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    rid = response.headers["x-request-id"]
    assert len(rid) >= 16
    error = response.json()["error"]
    assert error["code"] == "internal"
    assert error["request_id"] == rid
    assert rid in error["message"]
    [line] = [entry for entry in errors_log.lines if entry["msg"].startswith("unhandled error")]
    assert line["request_id"] == rid
    assert "RuntimeError: a bug" in line["exc"]


def test_the_callers_request_id_is_kept_and_a_malformed_one_replaced(server):
    with httpx.Client(base_url=server) as client:
        kept = client.get("/boom", headers={"x-request-id": "abc-123"})
        replaced = client.get("/fine", headers={"x-request-id": "bad id; " + "x" * 100})
    assert kept.headers["x-request-id"] == "abc-123"
    assert kept.json()["error"]["request_id"] == "abc-123"
    assert replaced.headers["x-request-id"] != "bad id; " + "x" * 100
    assert replaced.headers["x-request-id"].isalnum()


def test_the_connection_stays_usable_after_a_500(server):
    connections: list[object] = []

    def remember(response: httpx.Response) -> None:
        connections.append(response.extensions["network_stream"])

    with httpx.Client(base_url=server, event_hooks={"response": [remember]}) as client:
        assert client.get("/boom").status_code == 500
        assert client.get("/fine").json() == {"ok": True}
    # The same TCP connection answered both: the 500 did not make the server close it.
    assert connections[0] is connections[1]
