"""Objects first, then the row; the sweeper removes what a failure in between leaves behind."""

from __future__ import annotations

import os
import time

import pytest
from dataset.datasets import repository
from dataset.datasets.service import new_dataset_id
from dataset.datasets.sweeper import sweep_orphans, sweep_scratch
from dataset.testing import corpus
from dataset.testing.app import owner_headers, post_dataset

IMAGES = corpus.image_zip({"cats": 12, "dogs": 12})


async def test_failed_commit_leaves_no_visible_data_set_and_the_sweeper_removes_its_objects(
    client, local_store, monkeypatch
):
    async def refuse_insert(session, dataset):
        raise ConnectionError("database went away")

    monkeypatch.setattr(repository, "add_dataset", refuse_insert)
    failed = await post_dataset(client, "pets.zip", IMAGES)
    monkeypatch.undo()

    assert failed.status_code == 500
    assert (await client.get("/datasets", headers=owner_headers())).json()["total"] == 0
    leftovers = {key.split("/")[1] for key in local_store.list("datasets/")}
    assert len(leftovers) == 1

    sessionmaker = client.app.state.sessionmaker
    assert await sweep_orphans(store=local_store, sessionmaker=sessionmaker, grace_s=3600) == []
    swept = await sweep_orphans(
        store=local_store, sessionmaker=sessionmaker, grace_s=3600, now=time.time() + 3601
    )

    assert swept == sorted(leftovers)
    assert list(local_store.list("datasets/")) == []


async def test_failed_object_write_leaves_no_visible_data_set(client, local_store, monkeypatch):
    def broken_put(key, data, content_type="application/octet-stream"):
        raise OSError("disk full")

    monkeypatch.setattr(local_store, "put_bytes", broken_put)
    failed = await post_dataset(client, "pets.zip", IMAGES)
    monkeypatch.undo()

    assert failed.status_code == 500
    assert (await client.get("/datasets", headers=owner_headers())).json()["total"] == 0
    retried = await post_dataset(client, "pets.zip", IMAGES)
    assert retried.status_code == 201


async def test_sweeper_keeps_data_sets_with_a_row_and_keys_it_did_not_issue(client, local_store):
    kept = (await post_dataset(client, "pets.zip", IMAGES)).json()["id"]
    local_store.put_bytes("datasets/not-an-id/file", b"x")
    orphan = new_dataset_id()
    local_store.put_bytes(f"datasets/{orphan}/manifest.json", b"{}")

    swept = await sweep_orphans(
        store=local_store, sessionmaker=client.app.state.sessionmaker, grace_s=60, now=time.time() + 120
    )

    assert swept == [orphan]
    assert list(local_store.list(f"datasets/{kept}/"))
    assert local_store.exists("datasets/not-an-id/file")


def test_scratch_sweep_removes_only_old_directories(tmp_path):
    old, fresh = tmp_path / "upload-old", tmp_path / "upload-new"
    old.mkdir()
    fresh.mkdir()
    (old / "upload").write_bytes(b"x")
    an_hour_ago = time.time() - 3700
    os.utime(old, (an_hour_ago, an_hour_ago))

    assert sweep_scratch(tmp_path, grace_s=3600) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["upload-new"]


@pytest.mark.parametrize("status", [201, 422])
async def test_scratch_space_is_emptied_after_every_upload(client, status):
    content = IMAGES if status == 201 else b"not a zip"

    response = await post_dataset(client, "x.zip", content)

    assert response.status_code == status
    assert list(client.app.state.settings.resolved_work_dir.iterdir()) == []


async def test_delete_succeeds_when_the_store_fails_and_the_sweeper_finishes_it(
    client, local_store, monkeypatch
):
    dataset_id = (await post_dataset(client, "pets.zip", IMAGES)).json()["id"]

    def broken_delete(prefix):
        raise OSError("store unreachable")

    monkeypatch.setattr(local_store, "delete_prefix", broken_delete)
    response = await client.delete(f"/datasets/{dataset_id}", headers=owner_headers())
    monkeypatch.undo()

    assert response.status_code == 204
    assert (await client.get(f"/datasets/{dataset_id}", headers=owner_headers())).status_code == 404
    swept = await sweep_orphans(
        store=local_store, sessionmaker=client.app.state.sessionmaker, grace_s=0, now=time.time() + 1
    )
    assert swept == [dataset_id]
