"""The dataset API's behaviour: idempotent create, owner scoping, browse, download, delete, limits, caps."""

from __future__ import annotations

import base64
import io

import pytest
from common.contracts import INTERNAL_TOKEN_HEADER, OWNER_HEADER, DatasetManifest
from dataset.settings import Settings
from dataset.testing import corpus
from dataset.testing.app import INTERNAL_TOKEN, make_settings, owner_headers, post_dataset, report_of, serve
from PIL import Image

IMAGES = corpus.image_zip({"cats": 12, "dogs": 15})
TEXTS = corpus.csv_text(corpus.text_rows({"spam": 120, "ham": 130})).encode()


async def test_accepted_upload_answers_201_with_the_data_set(client):
    response = await post_dataset(client, "pets.zip", IMAGES, name="pets", description="two classes")

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["name"], body["description"], body["kind"]) == ("pets", "two classes", "image")
    assert body["class_counts"] == {"cats": 12, "dogs": 15}
    assert body["report"]["verdict"] == body["verdict"] == "accepted"


async def test_name_defaults_to_the_file_name(client):
    response = await post_dataset(client, "pets.zip", IMAGES)

    assert response.json()["name"] == "pets"


async def test_same_upload_twice_returns_the_existing_data_set(client):
    first = await post_dataset(client, "pets.zip", IMAGES)
    second = await post_dataset(client, "again.zip", IMAGES)

    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]


async def test_same_upload_under_a_new_name_says_it_was_not_stored_again(client):
    first = await post_dataset(client, "pets.zip", IMAGES, name="pets")
    same_name = await post_dataset(client, "pets.zip", IMAGES, name="pets")
    renamed = await post_dataset(client, "pets.zip", IMAGES, name="pets v2")

    assert same_name.status_code == 200
    assert renamed.status_code == 409
    error = renamed.json()["error"]
    assert error["code"] == "duplicate_upload"
    assert error["detail"] == {"existing_id": first.json()["id"], "existing_name": "pets"}
    assert "'pets v2'" in error["message"]


@pytest.mark.parametrize(
    ("owner", "fields"),
    [("bob", {}), ("alice", {"seed": "7"}), ("alice", {"val_fraction": "0.25"})],
    ids=["other-owner", "other-seed", "other-val-fraction"],
)
async def test_same_content_with_other_owner_or_options_is_a_new_data_set(client, owner, fields):
    first = await post_dataset(client, "pets.zip", IMAGES)
    second = await post_dataset(client, "pets.zip", IMAGES, owner=owner, **fields)

    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("GET", "/preview"), ("GET", "/download"), ("DELETE", "")],
    ids=["get", "preview", "download", "delete"],
)
async def test_another_owners_data_set_answers_404(client, method, suffix):
    dataset_id = (await post_dataset(client, "pets.zip", IMAGES)).json()["id"]

    response = await client.request(method, f"/datasets/{dataset_id}{suffix}", headers=owner_headers("bob"))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "dataset_not_found"
    assert (await client.get(f"/datasets/{dataset_id}", headers=owner_headers())).status_code == 200


@pytest.mark.parametrize("dataset_id", ["0" * 32, "nope", "x" * 64])
async def test_unknown_id_answers_404(client, dataset_id):
    response = await client.get(f"/datasets/{dataset_id}", headers=owner_headers())

    assert response.status_code == 404


@pytest.mark.parametrize("dataset_id", ["x" * 65, "x" * 60_000, "a.b", "-a", "a%0Ab", "%7F"])
async def test_a_malformed_id_answers_422_with_the_rule(client, dataset_id):
    response = await client.get(f"/datasets/{dataset_id}", headers=owner_headers())

    assert response.status_code == 422
    assert "an id is 1 to 64 letters" in response.json()["error"]["message"]


async def test_list_is_paginated_newest_first_and_scoped_to_the_owner(client):
    ids = []
    for seed in range(3):
        ids.append((await post_dataset(client, "pets.zip", IMAGES, seed=str(seed))).json()["id"])
    await post_dataset(client, "pets.zip", IMAGES, owner="bob")

    page = (await client.get("/datasets?limit=2&offset=0", headers=owner_headers())).json()
    rest = (await client.get("/datasets?limit=2&offset=2", headers=owner_headers())).json()

    assert page["total"] == rest["total"] == 3
    assert [d["id"] for d in page["items"] + rest["items"]] == ids[::-1]
    assert set(page["items"][0]["report"]) == {"verdict", "summary", "problem_counts"}


async def test_download_returns_the_original_bytes(client):
    dataset_id = (await post_dataset(client, "pets.zip", IMAGES)).json()["id"]

    response = await client.get(f"/datasets/{dataset_id}/download", headers=owner_headers())

    assert response.status_code == 200
    assert response.content == IMAGES
    assert response.headers["content-disposition"] == 'attachment; filename="pets.zip"'


async def test_image_preview_has_jpeg_thumbnails_per_class(client):
    dataset_id = (await post_dataset(client, "pets.zip", IMAGES)).json()["id"]

    preview = (await client.get(f"/datasets/{dataset_id}/preview", headers=owner_headers())).json()

    assert preview["kind"] == "image"
    assert {name: len(urls) for name, urls in preview["classes"].items()} == {"cats": 8, "dogs": 8}
    prefix = "data:image/jpeg;base64,"
    url = preview["classes"]["cats"][0]
    assert url.startswith(prefix)
    assert Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :]))).format == "JPEG"


async def test_text_preview_has_sample_rows_per_class(client):
    dataset_id = (await post_dataset(client, "t.csv", TEXTS)).json()["id"]

    preview = (await client.get(f"/datasets/{dataset_id}/preview", headers=owner_headers())).json()

    assert preview["kind"] == "text"
    assert sorted(preview["classes"]) == ["ham", "spam"]
    assert all(
        len(rows) == 5 and rows[0]["text"] and rows[0]["source"].startswith("row ")
        for rows in preview["classes"].values()
    )


async def test_delete_removes_the_row_and_the_objects(client, local_store):
    dataset_id = (await post_dataset(client, "pets.zip", IMAGES)).json()["id"]
    assert list(local_store.list(f"datasets/{dataset_id}/"))

    response = await client.delete(f"/datasets/{dataset_id}", headers=owner_headers())

    assert response.status_code == 204
    assert list(local_store.list(f"datasets/{dataset_id}/")) == []
    assert (await client.get(f"/datasets/{dataset_id}", headers=owner_headers())).status_code == 404


async def test_stored_image_set_follows_the_manifest_contract(client, local_store):
    body = (await post_dataset(client, "pets.zip", IMAGES)).json()

    manifest = DatasetManifest.model_validate_json(local_store.get_bytes(body["manifest_key"]))
    pack = local_store.get_bytes(manifest.pack_key)

    assert manifest.classes == ["cats", "dogs"]
    assert len(manifest.items) == 27
    for item in manifest.items:
        image = Image.open(io.BytesIO(pack[item.offset : item.offset + item.length]))
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (item.width, item.height))
    val = {c: sum(1 for i in manifest.items if i.label == c and i.split == "val") for c in manifest.classes}
    assert val == {"cats": 2, "dogs": 3}


async def test_stored_text_set_has_texts_inline(client, local_store):
    body = (await post_dataset(client, "t.csv", TEXTS, val_fraction="0.3")).json()

    manifest = DatasetManifest.model_validate_json(local_store.get_bytes(body["manifest_key"]))

    assert manifest.pack_key is None
    assert all(item.text and item.source.startswith("row ") for item in manifest.items)
    assert sum(1 for i in manifest.items if i.split == "val") == 39 + 36


async def test_limits_answer_the_limits_in_force(tmp_path, sqlite_url, local_store):
    settings = make_settings(data_dir=tmp_path, database_url=sqlite_url, limits={"image_max_classes": 20})
    async with serve(settings, store=local_store) as client:
        limits = (await client.get("/limits", headers=owner_headers())).json()

    assert limits["image_max_classes"] == 20
    assert limits["image_max_per_class"] == 5000
    assert limits["upload_max_bytes"] == 2048 * 1024 * 1024


def test_an_operator_sets_a_limit_through_the_environment(monkeypatch):
    monkeypatch.setenv("TRAINYARD_DATASET_LIMITS__TEXT_MAX_PER_CLASS", "5000")

    assert Settings().limits.text_max_per_class == 5000


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_upload_past_the_byte_cap_answers_413_and_keeps_nothing(
    tmp_path, sqlite_url, local_store, streamed
):
    settings = make_settings(data_dir=tmp_path, database_url=sqlite_url, limits={"upload_max_bytes": 50_000})
    big = corpus.image_zip({"cats": 40, "dogs": 40})
    assert len(big) > 50_000
    async with serve(settings, store=local_store) as client:
        if streamed:
            response = await _post_chunked(client, big)
        else:
            response = await post_dataset(client, "big.zip", big)
        listing = (await client.get("/datasets", headers=owner_headers())).json()

    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "upload_too_large"
    assert listing["total"] == 0
    assert list(local_store.list("")) == []
    assert list(settings.resolved_work_dir.iterdir()) == []


async def _post_chunked(client, content: bytes):
    boundary = "trainyardtestboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.zip"\r\n'
            f"Content-Type: application/zip\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )

    async def chunks():
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    headers = {**owner_headers(), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    return await client.post("/datasets", headers=headers, content=chunks())


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({"val_fraction": "0.5"}, "val_fraction_out_of_range", "0.2..0.3"),
        ({"val_fraction": "a lot"}, "validation_error", "val_fraction"),
        ({"seed": "-1"}, "validation_error", "seed"),
        ({"kind": "audio"}, "validation_error", "kind"),
        ({"label_col": "x"}, "validation_error", "label_col"),
    ],
    ids=["val-fraction-range", "val-fraction-not-a-number", "negative-seed", "unknown-kind", "unknown-field"],
)
async def test_bad_form_field_answers_422_naming_it(client, fields, code, words):
    response = await post_dataset(client, "pets.zip", IMAGES, **fields)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert words in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("filename", "content", "kind", "code"),
    [
        ("pets.zip", IMAGES, "text", "unsupported_file"),
        ("t.csv", TEXTS, "image", "not_a_zip"),
        ("photo.jpg", corpus.encode(corpus.photo(1)), None, "unsupported_file"),
        ("setup.exe", corpus.windows_executable(), None, "unsupported_file"),
    ],
    ids=["zip-as-text", "csv-as-image", "single-image", "executable"],
)
async def test_wrong_kind_of_file_is_refused(client, filename, content, kind, code):
    fields = {"kind": kind} if kind else {}
    response = await post_dataset(client, filename, content, **fields)

    assert response.status_code == 422
    assert report_of(response)["rejected_rule"] == code


async def test_form_without_a_file_answers_400(client):
    response = await client.post(
        "/datasets", headers=owner_headers(), data={"name": "x"}, files={"other": ("a", b"1")}
    )

    assert response.status_code == 400
    assert "'file'" in response.json()["error"]["message"]


async def test_body_that_is_not_multipart_answers_415(client):
    response = await client.post("/datasets", headers=owner_headers(), json={"name": "x"})

    assert response.status_code == 415


@pytest.mark.parametrize(
    "headers",
    [
        {OWNER_HEADER: "alice"},
        {INTERNAL_TOKEN_HEADER: "wrong", OWNER_HEADER: "alice"},
        {INTERNAL_TOKEN_HEADER: INTERNAL_TOKEN},
    ],
    ids=["no-token", "wrong-token", "no-owner"],
)
async def test_requests_not_from_the_gateway_answer_401(client, headers):
    response = await client.get("/datasets", headers=headers)

    assert response.status_code == 401


async def test_health_endpoints_answer_without_credentials(client):
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).json()["checks"] == {"database": "ok", "store": "ok"}
