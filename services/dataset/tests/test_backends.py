"""The data set lifecycle on both deployments: SQLite + local directory, and Postgres + S3 (moto)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from common.contracts import DatasetManifest
from common.store import LocalStore
from dataset.datasets.sweeper import sweep_orphans
from dataset.testing import corpus
from dataset.testing.app import make_settings, owner_headers, post_dataset, serve

IMAGES = corpus.image_zip({"cats": 12, "dogs": 12})
TEXTS = corpus.csv_text(corpus.text_rows({"spam": 110, "ham": 120})).encode()


@pytest.fixture(params=["sqlite+local", "postgres+s3"])
async def backend(request, tmp_path) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    if request.param == "sqlite+local":
        url, store = f"sqlite+aiosqlite:///{tmp_path / 'dataset.db'}", LocalStore(tmp_path / "objects")
    else:
        url, store = request.getfixturevalue("postgres_url"), request.getfixturevalue("s3_store")
    async with serve(make_settings(data_dir=tmp_path, database_url=url), store=store) as client:
        yield client, store


@pytest.mark.parametrize(
    ("filename", "content"), [("pets.zip", IMAGES), ("t.csv", TEXTS)], ids=["image", "text"]
)
async def test_lifecycle_create_read_download_delete(backend, filename, content):
    client, store = backend
    created = await post_dataset(client, filename, content)
    assert created.status_code == 201, created.text
    dataset = created.json()

    again = await post_dataset(client, filename, content)
    fetched = await client.get(f"/datasets/{dataset['id']}", headers=owner_headers())
    listed = await client.get("/datasets", headers=owner_headers())
    preview = await client.get(f"/datasets/{dataset['id']}/preview", headers=owner_headers())
    download = await client.get(f"/datasets/{dataset['id']}/download", headers=owner_headers())
    manifest = DatasetManifest.model_validate_json(store.get_bytes(dataset["manifest_key"]))

    assert (again.status_code, again.json()["id"]) == (200, dataset["id"])
    assert fetched.json()["report"] == dataset["report"]
    assert [d["id"] for d in listed.json()["items"]] == [dataset["id"]]
    assert sorted(preview.json()["classes"]) == dataset["classes"]
    assert download.content == content
    assert len(manifest.items) == dataset["num_items"]

    store.put_bytes(f"features/{dataset['id']}/efficientnet_lite0-224-x.npz", b"cached features")
    deleted = await client.delete(f"/datasets/{dataset['id']}", headers=owner_headers())
    assert deleted.status_code == 204
    assert list(store.list(f"datasets/{dataset['id']}/")) == []
    assert list(store.list(f"features/{dataset['id']}/")) == []  # derived from it, so gone with it


async def test_concurrent_identical_uploads_make_one_data_set(backend):
    client, store = backend

    first, second = await asyncio.gather(
        post_dataset(client, "pets.zip", IMAGES), post_dataset(client, "pets.zip", IMAGES)
    )

    assert sorted([first.status_code, second.status_code]) == [200, 201]
    assert first.json()["id"] == second.json()["id"]
    prefixes = {key.split("/")[1] for key in store.list("datasets/")}
    assert prefixes == {first.json()["id"]}


async def test_sweeper_removes_orphans(backend):
    client, store = backend
    kept = (await post_dataset(client, "pets.zip", IMAGES)).json()["id"]
    orphan = "0" * 12 + "ab" * 10  # issued at the epoch: long past any grace period
    store.put_bytes(f"datasets/{orphan}/manifest.json", b"{}")
    # Features a run wrote while its data set was being deleted; the kept data set's cache stays.
    store.put_bytes(f"features/{orphan}/f.npz", b"late")
    store.put_bytes(f"features/{kept}/f.npz", b"cache")

    swept = await sweep_orphans(
        store=store, sessionmaker=client.app.state.sessionmaker, grace_s=3600, now=time.time()
    )

    assert swept == [orphan]
    assert {key.split("/")[1] for key in store.list("datasets/")} == {kept}
    assert list(store.list("features/")) == [f"features/{kept}/f.npz"]
