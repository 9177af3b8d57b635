"""The gateway on its own: the web app, its fallback, and clear answers when a service is down."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
async def gateway(make_gateway):
    return await make_gateway()


async def test_root_serves_the_web_app(gateway):
    response = await gateway.get("/")
    assert response.status_code == 200
    assert "<title>Trainyard</title>" in response.text


async def test_client_side_routes_fall_back_to_index_html(gateway):
    response = await gateway.get("/runs/some-run")
    assert response.status_code == 200
    assert "<title>Trainyard</title>" in response.text


async def test_static_assets_are_served_with_their_type(gateway):
    index = (await gateway.get("/")).text
    script = re.search(r'src="(/assets/[^"]+\.js)"', index).group(1)
    response = await gateway.get(script)
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]


async def test_unknown_api_path_is_a_json_404_not_the_web_app(gateway):
    response = await gateway.get("/api/nothing-here")
    assert response.status_code == 404
    assert "no API endpoint" in response.json()["error"]["message"]


async def test_path_traversal_does_not_escape_the_static_directory(gateway):
    response = await gateway.get("/..%2f..%2fsettings.py")
    assert "<title>Trainyard</title>" in response.text


@pytest.mark.parametrize("path", ["/api/datasets", "/api/runs", "/api/models"])
async def test_a_service_that_is_down_answers_503_with_a_reason(gateway, path):
    response = await gateway.get(path)
    assert response.status_code == 503
    assert "unreachable" in response.json()["error"]["message"]


async def test_readyz_checks_only_the_database_the_gateway_uses(gateway):
    response = await gateway.get("/readyz")
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
