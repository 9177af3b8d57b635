"""Registering, listing, showing and deleting models through the real app."""

from __future__ import annotations

import json
import re

import pytest
from common.contracts import INTERNAL_TOKEN_HEADER, OWNER_HEADER
from inference.testing import (
    model_card,
    new_token,
    owner_headers,
    register,
    serve,
    write_artifacts,
)


async def test_registration_reads_classes_from_the_card(client, local_store):
    body = write_artifacts(local_store, run_id="r-1")
    model = await register(client, body)
    assert model["classes"] == ["red", "green", "blue", "grey"]
    assert (model["owner"], model["run_id"], model["onnx_key"]) == ("alice", "r-1", body.onnx_key)


async def test_registration_is_idempotent_per_owner_and_run(database_url, local_store, tmp_path):
    async with serve(database_url=database_url, store=local_store, tmp_path=tmp_path) as client:
        body = write_artifacts(local_store, run_id="r-1")
        first = await register(client, body)
        again = await client.post("/models", json=body.model_dump(), headers=owner_headers())
        listed = (await client.get("/models", headers=owner_headers())).json()
    assert again.status_code == 200
    assert again.json() == first
    assert listed["total"] == 1


async def test_same_run_registered_by_two_owners_gives_two_models(client, local_store):
    body = write_artifacts(local_store, run_id="r-1")
    alice = await register(client, body, owner="alice")
    bob = await register(client, body, owner="bob")
    assert alice["id"] != bob["id"]


def _bad_artifacts(store, case: str):
    body = write_artifacts(store, run_id="r-1")
    if case == "no-card":
        store.delete(body.card_key)
    elif case == "no-onnx":
        store.delete(body.onnx_key)
    elif case == "card-not-json":
        store.put_bytes(body.card_key, b"{not json")
    elif case == "card-missing-fields":
        store.put_bytes(body.card_key, json.dumps({"classes": ["a", "b"]}).encode())
    elif case == "card-other-run":
        store.put_bytes(body.card_key, json.dumps(model_card(run_id="r-2")).encode())
    elif case == "resize-below-crop":
        store.put_bytes(body.card_key, json.dumps(model_card(run_id="r-1", resize=8)).encode())
    elif case == "duplicate-classes":
        card = model_card(run_id="r-1", classes=["a", "a", "b", "c"])
        store.put_bytes(body.card_key, json.dumps(card).encode())
    elif case == "onnx-corrupt":
        store.put_bytes(body.onnx_key, b"garbage")
    elif case == "onnx-wrong-classes":
        store.put_bytes(body.card_key, json.dumps(model_card(run_id="r-1", classes=["a", "b"])).encode())
    elif case == "bad-key":
        body = body.model_copy(update={"onnx_key": "../etc/passwd"})
    return body


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no-card", "no model card at card_key"),
        ("no-onnx", "no ONNX file at onnx_key"),
        ("card-not-json", "is not a valid ModelCard"),
        ("card-missing-fields", "is not a valid ModelCard"),
        ("card-other-run", "belongs to run 'r-2'"),
        ("resize-below-crop", "resize must be at least input_size"),
        ("duplicate-classes", "distinct labels"),
        ("onnx-corrupt", "not a loadable ONNX model"),
        ("onnx-wrong-classes", r"expected \(N, 2\)"),
        ("bad-key", "not a valid object key"),
    ],
)
async def test_registration_refuses_unusable_artifacts_with_a_clear_422(client, local_store, case, message):
    body = _bad_artifacts(local_store, case)
    response = await client.post("/models", json=body.model_dump(), headers=owner_headers())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_model_artifacts"
    assert re.search(message, error["message"]), error["message"]
    assert (await client.get("/models", headers=owner_headers())).json()["total"] == 0


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({OWNER_HEADER: "alice"}, INTERNAL_TOKEN_HEADER, id="no-internal-token"),
        pytest.param(
            {OWNER_HEADER: "alice", INTERNAL_TOKEN_HEADER: "wrong"}, INTERNAL_TOKEN_HEADER, id="wrong"
        ),
        pytest.param(
            {INTERNAL_TOKEN_HEADER: owner_headers()[INTERNAL_TOKEN_HEADER]}, OWNER_HEADER, id="no-owner"
        ),
    ],
)
async def test_model_endpoints_require_the_internal_token_and_an_owner(client, headers, message):
    response = await client.get("/models", headers=headers)
    assert response.status_code == 401
    assert message in response.json()["error"]["message"]


async def test_list_pages_through_the_owners_models_newest_first(client, local_store):
    ids = [(await register(client, write_artifacts(local_store, run_id=f"r-{i}")))["id"] for i in range(3)]
    await register(client, write_artifacts(local_store, run_id="r-bob"), owner="bob")

    first = (await client.get("/models?limit=2", headers=owner_headers())).json()
    rest = (await client.get("/models?limit=2&offset=2", headers=owner_headers())).json()

    assert (first["total"], rest["total"]) == (3, 3)
    assert [m["id"] for m in first["items"] + rest["items"]] == ids[::-1]


async def test_get_returns_the_model_with_its_card(client, served_model):
    model = served_model["model"]
    response = await client.get(f"/models/{model['id']}", headers=owner_headers())
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == model["id"]
    assert body["card"]["preprocessing"]["input_size"] == 16
    assert body["card"]["run_id"] == "r-1"


async def test_delete_removes_the_model_its_tokens_and_its_loaded_session(client, served_model):
    model_id, token = served_model["model"]["id"], served_model["token"]["token"]
    sessions = client.app.state.server.sessions
    assert model_id in sessions  # registration warmed it

    response = await client.delete(f"/models/{model_id}", headers=owner_headers())

    assert response.status_code == 204
    assert model_id not in sessions
    assert (await client.get(f"/models/{model_id}", headers=owner_headers())).status_code == 404
    predict = await client.post("/predict", content=b"x", headers={"Authorization": f"Bearer {token}"})
    assert predict.status_code == 401


async def test_another_owners_model_answers_404_on_every_endpoint(database_url, local_store, tmp_path):
    endpoints = [
        ("GET", "/models/{id}"),
        ("POST", "/models/{id}/tokens"),
        ("GET", "/models/{id}/tokens"),
        ("DELETE", "/models/{id}/tokens/{token_id}"),
        ("DELETE", "/models/{id}"),
    ]
    async with serve(database_url=database_url, store=local_store, tmp_path=tmp_path) as client:
        model = await register(client, write_artifacts(local_store, run_id="r-1"), owner="alice")
        token = await new_token(client, model["id"], owner="alice")
        answers = {}
        for method, path in endpoints:
            url = path.format(id=model["id"], token_id=token["id"])
            response = await client.request(method, url, headers=owner_headers("mallory"))
            answers[(method, path)] = (response.status_code, response.json()["error"]["code"])
        tokens = (await client.get(f"/models/{model['id']}/tokens", headers=owner_headers("alice"))).json()
    assert answers == {endpoint: (404, "model_not_found") for endpoint in endpoints}
    assert [t["revoked"] for t in tokens] == [False]  # alice's model and token are untouched


async def test_unknown_model_id_answers_404(client):
    response = await client.get("/models/nope", headers=owner_headers())
    assert response.status_code == 404
    assert "GET /api/models" in response.json()["error"]["message"]
