"""The OpenAPI document: checked in, complete, and honest about errors."""

from __future__ import annotations

import json

from gateway.openapi_dump import OPENAPI_FILE, render

METHODS = ("get", "post", "put", "patch", "delete")


def operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [(p, m, op) for p, ops in schema["paths"].items() for m, op in ops.items() if m in METHODS]


def test_the_checked_in_document_matches_the_app():
    # Regenerate with `uv run python -m gateway.openapi_dump` (and `make web` for the TS client).
    assert OPENAPI_FILE.read_text() == render(), (
        "openapi.json is stale: run `uv run python -m gateway.openapi_dump`"
    )


def test_every_operation_has_a_stable_id_and_a_typed_answer():
    schema = json.loads(render())
    ids = [op["operationId"] for _, _, op in operations(schema)]
    assert len(ids) == len(set(ids)) >= 28
    for path, method, op in operations(schema):
        assert path.startswith("/api/v1/"), path
        ok = [s for s in op["responses"] if s.startswith("2")]
        assert ok, (method, path)
        for status in ok:
            answer = op["responses"][status]
            assert status == "204" or answer.get("content"), (method, path, status)
            for content in answer.get("content", {}).values():
                assert content["schema"] not in ({}, {"type": "object"}), (method, path)


def test_bodies_are_declared_where_an_operation_takes_one():
    schema = json.loads(render())
    takes_body = {
        "sign_up",
        "log_in",
        "create_api_key",
        "upload_dataset",
        "create_run",
        "predict",
        "predict_batch",
    }
    declared = {op["operationId"] for _, _, op in operations(schema) if "requestBody" in op}
    assert takes_body <= declared
    run_body = schema["paths"]["/api/v1/runs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert run_body == {"$ref": "#/components/schemas/RunCreate"}


def test_every_error_answer_has_the_one_error_shape():
    schema = json.loads(render())
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, method, op in operations(schema):
        for status in ("401", "404", "422", "429"):
            content = op["responses"][status]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)


async def test_docs_pages_load_their_files_from_the_gateway(make_gateway):
    gateway = await make_gateway()
    for page in ("/docs", "/redoc"):
        html = (await gateway.get(page)).text
        assert "cdn" not in html.lower() and "http" not in html.replace("http-equiv", "")
        for asset in (
            ("/docs-assets/swagger-ui-bundle.js",)
            if page == "/docs"
            else ("/docs-assets/redoc.standalone.js",)
        ):
            assert asset in html
            served = await gateway.get(asset)
            assert served.status_code == 200 and "javascript" in served.headers["content-type"], asset
    assert (await gateway.get("/openapi.json")).json()["paths"]
