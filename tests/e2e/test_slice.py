"""The walking skeleton end to end: upload -> train -> token -> predict, every hop over HTTP."""

from __future__ import annotations

import csv
import io
import time
import zipfile

import httpx
import pytest
from common.embedded import Stack
from common.store import LocalStore, ObjectStore, S3Store

from tests.e2e.images import COLOURS, class_image, image_zip, jpeg_bytes

pytestmark = pytest.mark.e2e


def wait_for_run(api: httpx.Client, run_id: str, timeout: float = 420) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.get(f"/api/runs/{run_id}").json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(1)
    raise TimeoutError(f"run {run_id} still {run['status']} after {timeout}s: {run.get('progress')}")


def error_message(response: httpx.Response) -> str:
    return response.json()["error"]["message"]


def test_upload_train_and_predict_through_the_gateway(api: httpx.Client):
    upload = api.post("/api/datasets", files={"file": ("colours.zip", image_zip())}, data={"name": "colours"})
    assert upload.status_code == 201, upload.text
    dataset = upload.json()
    assert dataset["class_counts"] == {"blue": 12, "green": 12, "red": 12}
    assert dataset["verdict"] in ("accepted", "accepted_with_warnings")

    created = api.post("/api/runs", json={"dataset_id": dataset["id"]})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "queued"

    run = wait_for_run(api, created.json()["id"])
    assert run["status"] == "succeeded", run
    assert run["val_accuracy"] >= 0.8
    assert run["model_id"]

    artifacts = {a["name"] for a in api.get(f"/api/runs/{run['id']}/artifacts").json()["items"]}
    assert {"model.onnx", "model_card.json", "model.pt", "curves.png"} <= artifacts
    expected_types = {".json": "application/json", ".png": "image/png", ".pt": "application/octet-stream"}
    expected_types[".onnx"] = "application/octet-stream"
    for name in artifacts:
        suffix = name[name.rfind(".") :]
        if suffix in expected_types:
            download = api.get(f"/api/runs/{run['id']}/artifacts/{name}")
            assert download.status_code == 200, (name, download.text)
            assert download.headers["content-type"] == expected_types[suffix], name

    token = api.post(f"/api/models/{run['model_id']}/tokens")
    assert token.status_code == 201, token.text
    bearer = {"Authorization": f"Bearer {token.json()['token']}"}

    for name, colour in COLOURS.items():
        image = jpeg_bytes(class_image(colour, seed=99_000 + len(name)))
        answer = api.post(
            "/api/predict?top_k=3", files={"file": ("x.jpg", image, "image/jpeg")}, headers=bearer
        )
        assert answer.status_code == 200, answer.text
        top = answer.json()["top_k"]
        assert top[0]["label"] == name
        assert [t["probability"] for t in top] == sorted((t["probability"] for t in top), reverse=True)
        assert abs(sum(t["probability"] for t in top) - 1.0) < 1e-3


def empty_zip() -> bytes:
    buf = io.BytesIO()
    zipfile.ZipFile(buf, "w").close()
    return buf.getvalue()


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("notes.zip", b"this is not a zip archive at all"),
        ("empty.zip", empty_zip()),
        ("one.zip", image_zip({"red": COLOURS["red"]})),
    ],
    ids=["not-a-zip", "empty-zip", "single-class"],
)
def test_bad_upload_gets_a_4xx_with_a_reason(api: httpx.Client, filename: str, content: bytes):
    response = api.post("/api/datasets", files={"file": (filename, content)}, data={"name": "bad"})
    assert 400 <= response.status_code < 500, response.text
    assert error_message(response)


def test_unknown_dataset_or_run_answers_404(api: httpx.Client):
    assert api.post("/api/runs", json={"dataset_id": "0" * 32}).status_code == 404
    response = api.get(f"/api/runs/{'f' * 32}")
    assert response.status_code == 404
    assert "run" in error_message(response)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Basic abc", "Bearer not-a-token", "Bearer tym_" + "A" * 43],
    ids=["missing", "empty", "wrong-scheme", "malformed", "unknown"],
)
def test_predict_with_a_bad_token_gets_401(api: httpx.Client, authorization: str | None):
    headers = {"Authorization": authorization} if authorization else {}
    image = jpeg_bytes(class_image(COLOURS["red"], seed=1))
    response = api.post("/api/predict", files={"file": ("x.jpg", image, "image/jpeg")}, headers=headers)
    assert response.status_code == 401, response.text
    assert error_message(response)


def test_bad_hyperparameter_gets_422_naming_the_field(api: httpx.Client):
    upload = api.post("/api/datasets", files={"file": ("colours.zip", image_zip())}, data={"name": "colours"})
    response = api.post(
        "/api/runs", json={"dataset_id": upload.json()["id"], "config": {"learning_rate": -1}}
    )
    assert response.status_code == 422
    assert "config.learning_rate" in error_message(response)


def text_csv() -> bytes:
    from common.testing.texts import sample_texts

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "label"])
    # The dataset service wants 100 rows per class; numbered so that none is a duplicate.
    writer.writerows((f"{text} {n}", label) for n, (label, text) in enumerate(sample_texts(per_class=110)))
    return buffer.getvalue().encode()


def test_text_upload_train_and_predict_one_and_many_through_the_gateway(api: httpx.Client):
    upload = api.post(
        "/api/datasets", files={"file": ("texts.csv", text_csv(), "text/csv")}, data={"name": "t"}
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["kind"] == "text"
    config = {
        "model": "fasttext",
        "epochs": 8,
        "learning_rate": 0.05,
        "embedding_dim": 16,
        "bigram_buckets": 64,
    }
    created = api.post(
        "/api/runs", json={"dataset_id": upload.json()["id"], "task": "text", "config": config}
    )
    assert created.status_code == 201, created.text
    run = wait_for_run(api, created.json()["id"])
    assert run["status"] == "succeeded", run
    artifacts = {a["name"] for a in api.get(f"/api/runs/{run['id']}/artifacts").json()["items"]}
    assert {"model.onnx", "tokenizer.json", "misclassified.csv", "confident_correct.json"} <= artifacts

    token = api.post(f"/api/models/{run['model_id']}/tokens").json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    one = api.post("/api/predict", json={"text": "goal match team ⚽"}, headers=bearer)
    assert one.status_code == 200, one.text
    assert one.json()["top_k"][0]["label"] == "sport"
    many = api.post(
        "/api/predict?top_k=2", json={"texts": ["pizza soup 🍕", "laptop server code"]}, headers=bearer
    )
    assert many.status_code == 200, many.text
    assert [p["top_k"][0]["label"] for p in many.json()["predictions"]] == ["food", "tech"]
    assert all(len(p["top_k"]) == 2 for p in many.json()["predictions"])
    table = api.post(
        "/api/predict/batch",
        content=b"text\npizza bread\n=cheese oven\n",
        headers={**bearer, "content-type": "text/csv"},
    )
    assert table.status_code == 200, table.text
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [r["label_1"] for r in rows] == ["food", "food"]
    assert rows[1]["text"].startswith("'=")  # formula neutralised

    empty = api.post("/api/predict", json={"text": "  "}, headers=bearer)
    assert empty.status_code == 422 and "empty" in error_message(empty)
    image = api.post("/api/predict", files={"file": ("x.jpg", b"\xff\xd8", "image/jpeg")}, headers=bearer)
    assert image.status_code == 415 and "classifies text" in error_message(image)


def stack_store(stack: Stack) -> ObjectStore:
    """The store the stack's services share, read directly (the test's own view, not a service's)."""
    env = stack.extra_env
    if env.get("TRAINYARD_STORE_BACKEND") == "s3":
        return S3Store(
            endpoint=env["TRAINYARD_S3_ENDPOINT"],
            access_key=env["TRAINYARD_S3_ACCESS_KEY"],
            secret_key=env["TRAINYARD_S3_SECRET_KEY"],
            bucket=env["TRAINYARD_S3_BUCKET"],
            region=env.get("TRAINYARD_S3_REGION"),
            create_bucket=False,
        )
    return LocalStore(stack.data_dir / "objects")


def test_deleting_a_dataset_deletes_its_runs_models_and_every_derived_object(stack: Stack, api: httpx.Client):
    store = stack_store(stack)
    before = set(store.list(""))
    dataset = api.post("/api/datasets", files={"file": ("colours.zip", image_zip())}, data={"name": "gone"})
    assert dataset.status_code == 201, dataset.text
    dataset_id = dataset.json()["id"]
    run = wait_for_run(api, api.post("/api/runs", json={"dataset_id": dataset_id}).json()["id"])
    assert run["status"] == "succeeded", run
    token = api.post(f"/api/models/{run['model_id']}/tokens").json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    image = {"file": ("x.jpg", jpeg_bytes(class_image(COLOURS["red"], seed=5)), "image/jpeg")}
    assert api.post("/api/predict", files=image, headers=bearer).status_code == 200
    # A second run, queued or running when the data set goes.
    second = api.post("/api/runs", json={"dataset_id": dataset_id, "config": {"head": "sgd", "epochs": 50}})
    derived = set(store.list("")) - before
    for prefix in (f"datasets/{dataset_id}/", f"features/{dataset_id}/", f"runs/{run['id']}/"):
        assert any(key.startswith(prefix) for key in derived), (prefix, sorted(derived))
    assert {f"runs/{run['id']}/{name}" for name in ("model.onnx", "data_issues.json")} <= derived

    assert api.delete(f"/api/datasets/{dataset_id}").status_code == 204

    for path in (f"/api/datasets/{dataset_id}", f"/api/runs/{run['id']}", f"/api/runs/{second.json()['id']}"):
        assert api.get(path).status_code == 404, path
    assert api.get(f"/api/models/{run['model_id']}").status_code == 404
    assert api.post("/api/predict", files=image, headers=bearer).status_code == 401
    time.sleep(1.5)  # the second run's worker, if it had started, is stopped and refused by now
    left = set(store.list("")) - before
    # Only the shared backbone cache may be new (not derived from this data set, reused by every run).
    assert all(key.startswith("pretrained/") for key in left), sorted(left)
    # Repeating the delete finds nothing.
    assert api.delete(f"/api/datasets/{dataset_id}").status_code == 404
