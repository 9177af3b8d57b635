"""Each input that once broke the platform, sent through the gateway to the real services: a 4xx with a
reason, never a 5xx, and never a request that reaches another resource than the one it names."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.images import image_zip
from tests.edge.conftest import unhandled_errors

pytestmark = pytest.mark.e2e

JAPANESE_NAME = "日本語データ.zip"


@pytest.fixture(scope="module")
def upload_bytes() -> bytes:
    return image_zip(per_class=10)


@pytest.fixture(scope="module")
def dataset(edge_stack, upload_bytes) -> dict:
    with httpx.Client(base_url=edge_stack.gateway_url, timeout=60) as client:
        upload = client.post(
            "/api/datasets",
            files={"file": (JAPANESE_NAME, upload_bytes)},
            data={"name": "edge"},
        )
    assert upload.status_code == 201, upload.text
    return upload.json()


def assert_refused(response: httpx.Response, status: int = 422) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]["message"]
    assert message
    return message


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/%7F",
        "/api/runs/%00",
        "/api/runs/a%0Ab",
        "/api/datasets/" + "x" * 10_000,
        "/api/models/a%23b",
        "/api/models/a%3Fb",
        "/api/models/a%25/tokens",
        "/api/models/%20/tokens",
    ],
)
def test_a_malformed_path_id_answers_422_naming_the_rule(api, path):
    assert "an id is 1 to 64" in assert_refused(api.get(path))


@pytest.mark.parametrize("path", ["/api/runs/..%2Flimits", "/api/models/ab%2Ftokens", "/api/datasets/%2E%2E"])
def test_an_encoded_slash_or_dot_segment_is_refused(api, path):
    # The server decodes %2F before routing, so these reach a route by its decoded path (or none).
    response = api.get(path)
    assert response.status_code in (404, 422), response.text
    assert response.json()["error"]["message"]


@pytest.mark.parametrize("dataset_id", ["", "../limits", "a\nb", "x" * 10_0000, " ", "a/b"])
def test_a_malformed_dataset_id_in_a_run_answers_422(api, dataset_id):
    message = assert_refused(api.post("/api/runs", json={"dataset_id": dataset_id}))
    assert "dataset_id" in message


@pytest.mark.parametrize("suffix", ["#x", "?x=1", "%23x", "/x"])
def test_a_fragment_or_query_in_an_id_does_not_create_a_run_for_another_id(api, dataset, suffix):
    response = api.post("/api/runs", json={"dataset_id": dataset["id"] + suffix})
    assert_refused(response)
    runs = api.get("/api/runs").json()["items"]
    assert [r for r in runs if r["dataset_id"] == dataset["id"]] == []


@pytest.mark.parametrize("path", ["/api/datasets", "/api/runs", "/api/models"])
@pytest.mark.parametrize("offset", [2**63, 2**63 - 1, 2**64 + 5, 10**30, -1])
def test_an_offset_out_of_range_answers_422(api, path, offset):
    assert "offset" in assert_refused(api.get(path, params={"offset": offset}))


@pytest.mark.parametrize("path", ["/api/datasets", "/api/runs", "/api/models"])
def test_the_largest_allowed_offset_answers_an_empty_page(api, path):
    response = api.get(path, params={"offset": 1_000_000})
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize("name", ["%00", "a%00b", "x" * 5000, "..", "a%2Fb", "%2E%2E"])
def test_a_malformed_artifact_name_answers_4xx(api, name):
    response = api.get(f"/api/runs/abc/artifacts/{name}")
    assert response.status_code in (404, 422), response.text
    assert response.json()["error"]["message"]


def test_a_dataset_with_a_japanese_file_name_downloads_under_that_name(api, dataset, upload_bytes):
    response = api.get(f"/api/datasets/{dataset['id']}/download")
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert "filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E%E3%83%87%E3%83%BC%E3%82%BF.zip" in disposition
    assert 'filename="download.zip"' in disposition
    assert response.content == upload_bytes


def test_no_service_logged_an_unhandled_error(edge_stack, api, dataset):
    assert unhandled_errors(edge_stack) == []
