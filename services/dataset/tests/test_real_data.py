"""The development data sets nobody on the project made (../shared/data beside the repository)."""

from __future__ import annotations

from pathlib import Path

import pytest
from common.contracts import DatasetManifest
from dataset.testing.app import post_dataset, report_of

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def shared_file(name: str) -> bytes:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is not here: these tests need the shared development data")
    return path.read_bytes()


async def test_flowers_are_accepted_with_a_stratified_split(client, local_store):
    response = await post_dataset(
        client, "flowers-5x100.zip", shared_file("flowers-5x100.zip"), name="flowers"
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["classes"] == ["daisy", "dandelion", "rose", "sunflower", "tulip"]
    assert all(98 <= n <= 100 for n in body["class_counts"].values())
    report = body["report"]
    assert report["details"]["top_level_folder"] == "flowers"
    assert all(c["val"] == round(c["used"] * 0.2) for c in report["classes"])
    manifest = DatasetManifest.model_validate_json(local_store.get_bytes(body["manifest_key"]))
    assert len(manifest.items) == body["num_items"]


async def test_sms_spam_is_used_whole_and_its_imbalance_reported(client):
    response = await post_dataset(client, "sms-spam.tsv", shared_file("sms-spam.tsv"), name="sms")

    assert response.status_code == 201, response.text
    body = response.json()
    report = report_of(response)
    assert body["verdict"] == "accepted_with_warnings"
    # Duplicates dropped, every remaining row used: the default caps are far above this set.
    assert 4000 < body["class_counts"]["ham"] < 4827
    assert body["class_counts"]["spam"] < 747
    assert "class_capped" not in {p["code"] for p in report["problems"]}
    imbalance = next(p for p in report["problems"] if p["code"] == "class_imbalance")
    assert "'ham'" in imbalance["message"] and "'spam'" in imbalance["message"]
    assert report["details"]["text_column"] == "SMS"
    assert report["details"]["label_column"] == "Label"


async def test_trec6_is_accepted_with_its_small_class(client):
    response = await post_dataset(client, "trec-6.csv", shared_file("trec-6.csv"), name="trec-6")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["classes"] == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    # 86 ABBR questions, fewer after exact duplicates are dropped: still a class to train on.
    assert 70 <= body["class_counts"]["ABBR"] <= 86
