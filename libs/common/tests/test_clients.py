"""The typed clients' error mapping against a real callee (uvicorn in the test's loop): a delete of
something already gone is False, any other error passes through with its status, message and
Retry-After; an unreachable callee is a 503 that names it, for plain calls and streams alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from common.clients import DatasetClient, InferenceClient
from common.errors import ServiceUnavailable, UpstreamError, install_error_handlers
from common.testing.ports import free_port
from common.testing.serving import serve_in_loop
from fastapi import FastAPI
from fastapi.responses import JSONResponse

GONE = "ds-gone"


def callee() -> FastAPI:
    """Answers DELETE like the real services do: 204, 404 for an unknown id, 503 + Retry-After when busy."""
    app = FastAPI()
    install_error_handlers(app)
    deleted: list[str] = []

    @app.delete("/datasets/{dataset_id}", status_code=204)
    async def delete_dataset(dataset_id: str) -> None:
        if dataset_id == GONE or dataset_id in deleted:
            return JSONResponse({"error": {"code": "not_found", "message": "no such data set"}}, 404)
        if dataset_id == "busy":
            body = {"error": {"code": "busy", "message": "the store is busy; retry in 3 s"}}
            return JSONResponse(body, 503, headers={"Retry-After": "3"})
        if dataset_id == "bad":
            return JSONResponse({"error": {"code": "bug", "message": "a bug"}}, 500)
        deleted.append(dataset_id)
        return None

    @app.delete("/models/{model_id}", status_code=204)
    async def delete_model(model_id: str) -> None:
        if model_id != "m-1":
            return JSONResponse({"error": {"code": "not_found", "message": "no such model"}}, 404)
        return None

    return app


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with serve_in_loop(callee(), free_port()) as base:
        yield base


async def test_a_delete_is_true_then_false_once_the_thing_is_gone(url: str) -> None:
    client = DatasetClient(url, internal_token="t")
    try:
        assert await client.delete_dataset(owner="alice", dataset_id="ds-1") is True
        assert await client.delete_dataset(owner="alice", dataset_id="ds-1") is False
        assert await client.delete_dataset(owner="alice", dataset_id=GONE) is False
    finally:
        await client.aclose()


async def test_a_model_delete_maps_404_the_same_way(url: str) -> None:
    client = InferenceClient(url, internal_token="t")
    try:
        assert await client.delete_model(owner="alice", model_id="m-1") is True
        assert await client.delete_model(owner="alice", model_id="m-2") is False
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("dataset_id", "status", "message", "retry_after"),
    [
        ("busy", 503, "the store is busy; retry in 3 s", "3"),
        ("bad", 502, "a bug", None),
    ],
)
async def test_a_delete_passes_other_errors_through(
    url: str, dataset_id: str, status: int, message: str, retry_after: str | None
) -> None:
    client = DatasetClient(url, internal_token="t")
    try:
        with pytest.raises(UpstreamError) as caught:
            await client.delete_dataset(owner="alice", dataset_id=dataset_id)
    finally:
        await client.aclose()
    assert (caught.value.status_code, caught.value.message) == (status, message)
    assert (caught.value.headers or {}).get("Retry-After") == retry_after


async def test_an_unreachable_callee_is_a_503_naming_it_for_calls_and_streams() -> None:
    client = InferenceClient(f"http://127.0.0.1:{free_port()}", internal_token="t")
    try:
        with pytest.raises(ServiceUnavailable, match="inference service is unreachable"):
            await client.delete_model(owner="alice", model_id="m-1")
        with pytest.raises(ServiceUnavailable, match="inference service is unreachable"):
            await client.open_stream("GET", "/models")
    finally:
        await client.aclose()
