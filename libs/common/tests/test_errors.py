"""The error handlers every service installs: a 422 names the field, or says what is wrong with the body."""

from __future__ import annotations

import httpx
import pytest
from common.errors import NotFound, UpstreamError, install_error_handlers
from fastapi import FastAPI
from pydantic import BaseModel


class Item(BaseModel):
    name: str
    count: int


def app() -> FastAPI:
    api = FastAPI()
    install_error_handlers(api)

    @api.post("/items")
    async def create(item: Item) -> Item:
        return item

    @api.get("/items/{item_id}")
    async def read(item_id: str) -> None:
        raise NotFound(f"no item {item_id!r}")

    return api


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://test")


async def test_an_invalid_field_is_named():
    async with client() as c:
        response = await c.post("/items", json={"name": "a", "count": "many"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [d["field"] for d in error["detail"]] == ["count"]
    assert error["message"].startswith("invalid request: count: Input should be a valid integer")


async def test_a_body_that_is_not_json_says_so_and_where():
    async with client() as c:
        response = await c.post(
            "/items", content=b'{"name": "a", count: 1}', headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    error = response.json()["error"]
    assert [d["field"] for d in error["detail"]] == [None]
    assert error["message"].startswith("invalid request: the body is not valid JSON: ")
    assert "at character 14" in error["message"]


async def test_app_errors_keep_their_status_and_message():
    async with client() as c:
        response = await c.get("/items/x")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "no item 'x'"}}


@pytest.mark.parametrize(
    ("callee", "caller", "retry_after"),
    [(404, 404, None), (422, 422, None), (503, 503, "2"), (500, 502, None), (504, 502, None)],
)
def test_upstream_errors_keep_4xx_and_503_with_retry_after_and_turn_other_5xx_into_502(
    callee, caller, retry_after
):
    error = UpstreamError(
        callee, {"error": {"code": "x", "message": "m"}}, service="inference", retry_after="2"
    )
    assert error.status_code == caller
    assert (error.headers or {}).get("Retry-After") == retry_after
