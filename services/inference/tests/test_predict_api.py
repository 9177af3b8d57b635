"""POST /predict and /predict/batch through the real app: answers, ordering, limits and every refusal."""

from __future__ import annotations

import numpy as np
import pytest
from common.contracts import Prediction
from inference.testing import (
    BLUE,
    CLASSES,
    GREEN,
    RED,
    bearer,
    build_classifier,
    image_bytes,
    model_card,
    new_token,
    owner_headers,
    register,
    serve,
    write_artifacts,
)


def png_file(colour, name: str = "image.png"):
    return (name, image_bytes(colour), "image/png")


async def test_register_token_predict_on_every_database_and_store(database_url, any_store, tmp_path):
    async with serve(database_url=database_url, store=any_store, tmp_path=tmp_path) as client:
        model = await register(client, write_artifacts(any_store, run_id="r-1"))
        token = (await new_token(client, model["id"]))["token"]
        client.app.state.server.evict(model["id"])  # the predictions below load it from the store again
        red = await client.post("/predict", files={"file": png_file(RED)}, headers=bearer(token))
        blue = await client.post("/predict", files={"file": png_file(BLUE)}, headers=bearer(token))
    assert red.status_code == 200, red.text
    assert red.json()["model_id"] == model["id"]
    assert red.json()["top_k"][0]["label"] == "red"
    assert blue.json()["top_k"][0]["label"] == "blue"


async def test_probabilities_are_sorted_and_sum_to_one(client, served_model):
    token = served_model["token"]["token"]
    response = await client.post("/predict?top_k=4", files={"file": png_file(GREEN)}, headers=bearer(token))
    scores = [s["probability"] for s in response.json()["top_k"]]
    assert sorted(scores, reverse=True) == scores
    assert sum(scores) == pytest.approx(1.0, abs=1e-6)
    assert {s["label"] for s in response.json()["top_k"]} == set(CLASSES)


@pytest.mark.parametrize("top_k", [1, 2, 4])
async def test_top_k_is_honoured(client, served_model, top_k):
    token = served_model["token"]["token"]
    response = await client.post(
        f"/predict?top_k={top_k}", files={"file": png_file(RED)}, headers=bearer(token)
    )
    assert len(response.json()["top_k"]) == top_k


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
async def test_top_k_above_the_number_of_classes_is_a_422_naming_the_count(client, served_model, path):
    token = served_model["token"]["token"]
    field = "file" if path == "/predict" else "files"
    response = await client.post(f"{path}?top_k=5", files={field: png_file(RED)}, headers=bearer(token))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "top_k_too_large"
    assert "4 classes" in error["message"]
    assert error["detail"] == {"top_k": 5, "classes": 4}


async def test_default_top_k_is_every_class_of_a_model_with_fewer_than_five(client, served_model):
    response = await client.post(
        "/predict", files={"file": png_file(RED)}, headers=bearer(served_model["token"]["token"])
    )
    assert len(response.json()["top_k"]) == len(CLASSES) == 4


async def test_default_top_k_is_five(client, local_store):
    classes = [f"c{i}" for i in range(7)]
    weights = np.zeros((3, 7), dtype=np.float32)
    body = write_artifacts(
        local_store,
        run_id="r-7",
        onnx_bytes=build_classifier(weights=weights),
        card=model_card(run_id="r-7", classes=classes),
    )
    token = (await new_token(client, (await register(client, body))["id"]))["token"]
    response = await client.post("/predict", files={"file": png_file(RED)}, headers=bearer(token))
    assert len(response.json()["top_k"]) == 5


@pytest.mark.parametrize("top_k", ["0", "-1", "1001", "many"])
async def test_top_k_out_of_range_is_a_422_naming_top_k(client, served_model, top_k):
    token = served_model["token"]["token"]
    response = await client.post(
        f"/predict?top_k={top_k}", files={"file": png_file(RED)}, headers=bearer(token)
    )
    assert response.status_code == 422
    assert "top_k" in response.json()["error"]["message"]


@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg", "application/octet-stream"])
async def test_raw_image_body_is_accepted(client, served_model, content_type):
    token = served_model["token"]["token"]
    headers = bearer(token) | {"content-type": content_type}
    response = await client.post("/predict", content=image_bytes(BLUE), headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["top_k"][0]["label"] == "blue"


async def test_gateway_headers_beside_the_model_token_are_accepted(client, served_model):
    headers = owner_headers("someone-else") | bearer(served_model["token"]["token"])
    response = await client.post("/predict", files={"file": png_file(RED)}, headers=headers)
    assert response.status_code == 200


async def test_batch_returns_one_prediction_per_file_in_upload_order(client, served_model):
    colours = [RED, BLUE, GREEN, RED, BLUE]
    files = [("files", png_file(c, f"{i}.png")) for i, c in enumerate(colours)]
    response = await client.post(
        "/predict/batch?top_k=2", files=files, headers=bearer(served_model["token"]["token"])
    )
    assert response.status_code == 200, response.text
    predictions = [Prediction.model_validate(p) for p in response.json()["predictions"]]
    assert [p.top_k[0].label for p in predictions] == ["red", "blue", "green", "red", "blue"]
    assert all(len(p.top_k) == 2 for p in predictions)
    assert response.json()["model_id"] == served_model["model"]["id"]


async def test_batch_matches_single_predictions(client, served_model):
    headers = bearer(served_model["token"]["token"])
    single = await client.post("/predict?top_k=4", files={"file": png_file(GREEN)}, headers=headers)
    batch = await client.post(
        "/predict/batch?top_k=4",
        files=[("files", png_file(RED)), ("files", png_file(GREEN))],
        headers=headers,
    )
    in_batch, alone = batch.json()["predictions"][1]["top_k"], single.json()["top_k"]
    assert [s["label"] for s in in_batch] == [s["label"] for s in alone]
    assert [s["probability"] for s in in_batch] == pytest.approx([s["probability"] for s in alone], abs=1e-6)


async def test_a_bad_image_in_a_batch_is_named_by_index_and_filename(client, served_model):
    files = [("files", png_file(RED, "ok.png")), ("files", ("notes.txt", b"hello", "text/plain"))]
    response = await client.post(
        "/predict/batch", files=files, headers=bearer(served_model["token"]["token"])
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert "file 1 ('notes.txt')" in error["message"]
    assert error["detail"] == {"index": 1, "filename": "notes.txt"}


@pytest.mark.parametrize(
    ("authorization", "code", "message"),
    [
        pytest.param(None, "missing_model_token", "missing model token", id="missing"),
        pytest.param("Basic dXNlcjpwYXNz", "malformed_model_token", "malformed Authorization", id="basic"),
        pytest.param("Bearer", "malformed_model_token", "malformed Authorization", id="empty-bearer"),
        pytest.param("Bearer abc123", "malformed_model_token", "start with 'tym_'", id="not-a-model-token"),
        pytest.param(
            "Bearer tym_" + "A" * 43, "unknown_model_token", "unknown or revoked model token", id="unknown"
        ),
    ],
)
async def test_bad_authorization_is_a_401_that_says_what_to_send(
    client, served_model, authorization, code, message
):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.post("/predict", files={"file": png_file(RED)}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert message in response.json()["error"]["message"]
    if code != "unknown_model_token":
        assert "Authorization: Bearer tym_<token>" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        pytest.param(
            {"content": b"not an image", "headers": {"content-type": "image/png"}}, 422, "invalid_image"
        ),
        pytest.param(
            {"content": b"", "headers": {"content-type": "image/png"}}, 422, "invalid_image", id="empty"
        ),
        pytest.param(
            {"files": {"file": ("a.png", b"\x89PNG\r\n\x1a\nxx", "image/png")}}, 422, "invalid_image"
        ),
        pytest.param(
            {"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, "unsupported_upload"
        ),
        pytest.param({"content": b"hello"}, 415, "unsupported_upload", id="no-content-type"),
        pytest.param(
            {"files": {"image": ("a.png", b"x", "image/png")}}, 422, "missing_upload", id="wrong-field"
        ),
        pytest.param({"data": {"file": "text"}, "files": {"other": ("a", b"x")}}, 422, "missing_upload"),
        pytest.param(
            {"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data"}},
            422,
            "malformed_upload",
        ),
        pytest.param(
            {"files": [("file", ("a.png", b"x", "image/png")), ("file", ("b.png", b"y", "image/png"))]},
            413,
            "too_many_files",
        ),
    ],
)
async def test_unusable_uploads_are_refused_with_the_reason(client, served_model, kwargs, status, code):
    headers = bearer(served_model["token"]["token"]) | kwargs.pop("headers", {})
    response = await client.post("/predict", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_raw_batch_body_is_refused_with_415(client, served_model):
    headers = bearer(served_model["token"]["token"]) | {"content-type": "image/png"}
    response = await client.post("/predict/batch", content=image_bytes(RED), headers=headers)
    assert response.status_code == 415
    assert "files" in response.json()["error"]["message"]


@pytest.fixture
async def capped(sqlite_url, local_store, tmp_path):
    """The app with small limits: 4 KiB per image, 10 KiB per batch, 3 files, 5000 pixels."""
    async with serve(
        database_url=sqlite_url,
        store=local_store,
        tmp_path=tmp_path,
        max_image_bytes=4096,
        max_batch_bytes=10240,
        max_batch_files=3,
        max_image_pixels=5000,
    ) as client:
        model = await register(client, write_artifacts(local_store, run_id="r-1"))
        token = (await new_token(client, model["id"]))["token"]
        yield client, bearer(token)


async def test_body_over_the_cap_is_a_413(capped):
    client, headers = capped
    response = await client.post(
        "/predict", content=b"x" * 5000, headers=headers | {"content-type": "image/png"}
    )
    assert response.status_code == 413
    assert "4096" in response.json()["error"]["message"]


async def test_multipart_image_over_the_cap_is_a_413(capped):
    client, headers = capped
    files = {"file": ("big.png", b"x" * 5000, "image/png")}
    response = await client.post("/predict", files=files, headers=headers)
    assert response.status_code == 413
    assert "'big.png' is 5000 bytes; the limit is 4096" in response.json()["error"]["message"]


async def test_body_over_the_cap_is_refused_while_streaming_without_content_length(capped):
    client, headers = capped

    async def chunks():
        for _ in range(10):
            yield b"x" * 1000

    response = await client.post(
        "/predict", content=chunks(), headers=headers | {"content-type": "image/png"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "upload_too_large"


async def test_image_with_too_many_pixels_is_a_413(capped):
    client, headers = capped
    big = image_bytes(RED, size=(100, 60))  # 6000 pixels, a few hundred bytes of PNG
    response = await client.post("/predict", files={"file": ("big.png", big, "image/png")}, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "image_too_large"


async def test_batch_with_too_many_files_is_a_413(capped):
    client, headers = capped
    files = [("files", png_file(RED, f"{i}.png")) for i in range(4)]
    response = await client.post("/predict/batch", files=files, headers=headers)
    assert response.status_code == 413
    assert "at most 3" in response.json()["error"]["message"]


async def test_batch_body_over_the_batch_cap_is_a_413(capped):
    client, headers = capped
    files = [("files", (f"{i}.png", b"x" * 4000, "image/png")) for i in range(3)]
    response = await client.post("/predict/batch", files=files, headers=headers)
    assert response.status_code == 413
    assert "10240" in response.json()["error"]["message"]


async def test_batch_file_over_the_per_image_cap_is_named(capped):
    client, headers = capped
    files = [("files", png_file(RED, "ok.png")), ("files", ("huge.png", b"x" * 5000, "image/png"))]
    response = await client.post("/predict/batch", files=files, headers=headers)
    assert response.status_code == 413
    assert "file 1 ('huge.png')" in response.json()["error"]["message"]


async def test_model_whose_onnx_vanished_answers_503_not_500(client, local_store, served_model):
    model = served_model["model"]
    client.app.state.server.evict(model["id"])
    local_store.delete(model["onnx_key"])
    response = await client.post(
        "/predict", files={"file": png_file(RED)}, headers=bearer(served_model["token"]["token"])
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_unavailable"


async def test_an_empty_request_says_what_to_send(client, served_model):
    response = await client.post("/predict", headers=bearer(served_model["token"]["token"]))
    assert response.status_code == 415
    message = response.json()["error"]["message"]
    assert message.startswith("the request has no body or content type; send multipart/form-data")


@pytest.fixture
async def small_budget(sqlite_url, local_store, tmp_path):
    """The app with a 16 MiB decode budget and a 400 000-pixel budget per batch."""
    async with serve(
        database_url=sqlite_url,
        store=local_store,
        tmp_path=tmp_path,
        decode_budget_mib=16,
        max_request_pixels=400_000,
    ) as client:
        model = await register(client, write_artifacts(local_store, run_id="r-1"))
        token = (await new_token(client, model["id"]))["token"]
        yield client, bearer(token)


async def test_an_image_whose_decode_exceeds_the_budget_is_a_413_that_says_why(small_budget):
    client, headers = small_budget
    rgba = image_bytes((255, 0, 0, 255), size=(1000, 1000), mode="RGBA")  # 24 MB to decode
    response = await client.post("/predict", files={"file": ("a.png", rgba, "image/png")}, headers=headers)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "image_too_large"
    assert "1000x1000 RGBA image needs 23 MiB" in error["message"]
    # The same pixels in 8-bit RGB fit (8 MB): the budget is about memory, not a flat pixel count.
    rgb = image_bytes(RED, size=(1000, 1000))
    assert (await client.post("/predict", files={"file": ("b.png", rgb)}, headers=headers)).status_code == 200


async def test_a_batch_past_its_pixel_budget_is_a_413_naming_the_file(small_budget):
    client, headers = small_budget
    files = [("files", (f"{i}.png", image_bytes(RED, size=(400, 400)), "image/png")) for i in range(3)]
    response = await client.post("/predict/batch", files=files, headers=headers)
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert message.startswith("file 2 ('2.png')")
    assert "more than the 400000" in message
