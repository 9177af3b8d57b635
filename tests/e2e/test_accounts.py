"""Two users on one multi-user platform: every route answers 404 for the other user's ids, lists stay
private, and a client header naming an owner changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from common.embedded import Stack

from tests.e2e.images import COLOURS, class_image, image_zip, jpeg_bytes
from tests.e2e.test_slice import wait_for_run

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"


def user_client(stack: Stack, email: str) -> httpx.Client:
    """Signs up through the browser flow, then uses an API key: both credentials are exercised."""
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as browser:
        me = browser.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
        assert me.status_code == 201, me.text
        key = browser.post(
            "/api/v1/keys", json={"name": "e2e"}, headers={"X-CSRF-Token": me.json()["csrf_token"]}
        )
        assert key.status_code == 201, key.text
    client = httpx.Client(
        base_url=stack.gateway_url, timeout=120, headers={"Authorization": f"Bearer {key.json()['key']}"}
    )
    client.user_id = me.json()["user"]["id"]  # type: ignore[attr-defined]
    return client


@pytest.fixture(scope="module")
def ada(multi_stack) -> Iterator[httpx.Client]:
    with user_client(multi_stack, "ada@example.com") as client:
        yield client


@pytest.fixture(scope="module")
def bob(multi_stack) -> Iterator[httpx.Client]:
    with user_client(multi_stack, "bob@example.com") as client:
        yield client


@pytest.fixture(scope="module")
def adas_things(ada: httpx.Client) -> dict[str, str]:
    """Ada's data set, finished run, model, model token and API key ids."""
    upload = ada.post(
        "/api/v1/datasets", files={"file": ("c.zip", image_zip(per_class=10))}, data={"name": "c"}
    )
    assert upload.status_code == 201, upload.text
    run = ada.post("/api/v1/runs", json={"dataset_id": upload.json()["id"], "config": {"epochs": 3}})
    assert run.status_code == 201, run.text
    done = wait_for_run(ada, run.json()["id"])
    assert done["status"] == "succeeded", done
    token = ada.post(f"/api/v1/models/{done['model_id']}/tokens")
    assert token.status_code == 201, token.text
    keys = ada.get("/api/v1/keys").json()["items"]
    return {
        "dataset": upload.json()["id"],
        "run": done["id"],
        "model": done["model_id"],
        "token_id": token.json()["prefix"],
        "token": token.json()["token"],
        "key": keys[0]["id"],
    }


def owned_routes(ids: dict[str, str]) -> list[tuple[str, str, dict]]:
    d, r, m, k = ids["dataset"], ids["run"], ids["model"], ids["key"]
    return [
        ("GET", f"/api/v1/datasets/{d}", {}),
        ("GET", f"/api/v1/datasets/{d}/preview", {}),
        ("GET", f"/api/v1/datasets/{d}/download", {}),
        ("POST", "/api/v1/runs", {"json": {"dataset_id": d}}),
        ("GET", f"/api/v1/runs/{r}", {}),
        ("POST", f"/api/v1/runs/{r}/cancel", {}),
        ("GET", f"/api/v1/runs/{r}/artifacts", {}),
        ("GET", f"/api/v1/runs/{r}/artifacts/model.onnx", {}),
        ("GET", f"/api/v1/runs/{r}/events", {}),
        ("GET", f"/api/v1/runs/{r}/logs", {}),
        ("GET", f"/api/v1/models/{m}", {}),
        ("POST", f"/api/v1/models/{m}/tokens", {}),
        ("GET", f"/api/v1/models/{m}/tokens", {}),
        ("DELETE", f"/api/v1/models/{m}/tokens/{ids['token_id']}", {}),
        ("DELETE", f"/api/v1/keys/{k}", {}),
        ("DELETE", f"/api/v1/models/{m}", {}),
        ("DELETE", f"/api/v1/datasets/{d}", {}),
    ]


def test_every_route_answers_404_for_another_users_ids(ada, bob, adas_things):
    results = {f"{m} {p}": bob.request(m, p, **kw).status_code for m, p, kw in owned_routes(adas_things)}
    assert {route: status for route, status in results.items() if status != 404} == {}
    # ... and nothing of Ada's was touched: her things are all still there and usable.
    assert ada.get(f"/api/v1/datasets/{adas_things['dataset']}").status_code == 200
    assert ada.get(f"/api/v1/runs/{adas_things['run']}").json()["status"] == "succeeded"
    assert ada.get(f"/api/v1/models/{adas_things['model']}").status_code == 200
    assert ada.get("/api/v1/auth/me").status_code == 200


def test_lists_show_only_the_callers_own_things(ada, bob, adas_things):
    for path in ("/api/v1/datasets", "/api/v1/runs", "/api/v1/models", "/api/v1/keys"):
        theirs = ada.get(path).json()["items"]
        mine = bob.get(path).json()["items"]
        assert theirs, path
        assert mine == [] or path == "/api/v1/keys" and all(k["id"] != adas_things["key"] for k in mine), path


def test_a_client_owner_header_is_ignored(ada, bob, adas_things):
    forged = {"X-Trainyard-Owner": ada.user_id, "X-Trainyard-Internal-Token": "local-dev-internal-token"}
    assert bob.get(f"/api/v1/datasets/{adas_things['dataset']}", headers=forged).status_code == 404
    assert bob.get("/api/v1/datasets", headers=forged).json()["items"] == []
    assert bob.get("/api/v1/runs", headers=forged).json()["items"] == []


def test_without_credentials_every_route_answers_401(multi_stack, adas_things):
    with httpx.Client(base_url=multi_stack.gateway_url, timeout=60) as anonymous:
        forged = {"X-Trainyard-Owner": "local"}
        for method, path, kw in owned_routes(adas_things):
            assert anonymous.request(method, path, headers=forged, **kw).status_code == 401, path
        for path in ("/api/v1/datasets", "/api/v1/runs", "/api/v1/models", "/api/v1/keys"):
            assert anonymous.get(path, headers=forged).status_code == 401, path


def test_a_model_token_predicts_whoever_sends_it(multi_stack, adas_things):
    # Model tokens are capabilities for prediction only: no account is needed, and they open nothing else.
    bearer = {"Authorization": f"Bearer {adas_things['token']}"}
    with httpx.Client(base_url=multi_stack.gateway_url, timeout=60, headers=bearer) as holder:
        image = jpeg_bytes(class_image(COLOURS["red"], seed=5))
        answer = holder.post("/api/v1/predict", files={"file": ("x.jpg", image, "image/jpeg")})
        assert answer.status_code == 200, answer.text
        assert holder.get("/api/v1/datasets").status_code == 401
