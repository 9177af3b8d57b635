"""Model tokens: shown once, stored only as a hash, listed by prefix, revocable."""

from __future__ import annotations

import hashlib

from common.db import create_engine
from inference.testing import (
    RED,
    bearer,
    image_bytes,
    new_token,
    owner_headers,
    register,
    serve,
    write_artifacts,
)
from sqlalchemy import text


async def predict_status(client, token: str) -> int:
    response = await client.post(
        "/predict", content=image_bytes(RED), headers=bearer(token) | {"content-type": "image/png"}
    )
    return response.status_code


async def test_token_is_shown_once_with_its_display_prefix(client, served_model):
    created = served_model["token"]
    assert created["token"].startswith("tym_")
    assert len(created["token"]) == 4 + 43
    assert created["prefix"] == created["token"][:8]
    assert created["model_id"] == served_model["model"]["id"]

    listed = (await client.get(f"/models/{created['model_id']}/tokens", headers=owner_headers())).json()

    assert [(t["id"], t["prefix"], t["revoked"]) for t in listed] == [
        (created["id"], created["prefix"], False)
    ]
    assert created["token"] not in str(listed)


async def test_database_holds_only_the_sha256_of_a_token(database_url, local_store, tmp_path):
    async with serve(database_url=database_url, store=local_store, tmp_path=tmp_path) as client:
        model = await register(client, write_artifacts(local_store, run_id="r-1"))
        token = (await new_token(client, model["id"]))["token"]
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        rows = [
            tuple(row)
            for table in ("models", "model_tokens")
            for row in (await conn.execute(text(f"SELECT * FROM {table}"))).all()
        ]
        stored_hash = (await conn.execute(text("SELECT token_hash FROM model_tokens"))).scalar_one()
    await engine.dispose()
    assert token not in repr(rows)
    assert token[8:] not in repr(rows)  # not even the secret part beyond the display prefix
    assert stored_hash == hashlib.sha256(token.encode()).hexdigest()


async def test_revoked_token_stops_authenticating_and_other_tokens_keep_working(client, served_model):
    model_id = served_model["model"]["id"]
    revoked, kept = served_model["token"], await new_token(client, model_id)

    response = await client.delete(f"/models/{model_id}/tokens/{revoked['id']}", headers=owner_headers())

    assert response.status_code == 204
    assert await predict_status(client, revoked["token"]) == 401
    assert await predict_status(client, kept["token"]) == 200
    listed = (await client.get(f"/models/{model_id}/tokens", headers=owner_headers())).json()
    assert {t["id"]: t["revoked"] for t in listed} == {revoked["id"]: True, kept["id"]: False}
    assert next(t for t in listed if t["revoked"])["revoked_at"] is not None


async def test_revoking_twice_succeeds_and_keeps_the_first_time(client, served_model):
    model_id, token_id = served_model["model"]["id"], served_model["token"]["id"]
    url = f"/models/{model_id}/tokens/{token_id}"
    await client.delete(url, headers=owner_headers())
    first = (await client.get(f"/models/{model_id}/tokens", headers=owner_headers())).json()[0]["revoked_at"]

    again = await client.delete(url, headers=owner_headers())

    assert again.status_code == 204
    assert (await client.get(f"/models/{model_id}/tokens", headers=owner_headers())).json()[0][
        "revoked_at"
    ] == first


async def test_token_of_another_model_cannot_be_revoked_through_this_one(client, local_store, served_model):
    other = await register(client, write_artifacts(local_store, run_id="r-2"))
    response = await client.delete(
        f"/models/{other['id']}/tokens/{served_model['token']['id']}", headers=owner_headers()
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "token_not_found"
    assert await predict_status(client, served_model["token"]["token"]) == 200
