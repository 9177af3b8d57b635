from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from common.contracts import DatasetManifest
from common.training_config import parse_run_config as parse_config
from trainer.training import DatasetUnusable
from trainer.training.core.context import class_weights
from trainer.training.core.data import stratified_split
from trainer.training.core.reports import confusion_matrix, per_class_scores
from trainer.training.image.augment import augment_batch
from trainer.training.image.data import load_image_set
from trainer.training.image.preprocessing import decode_rgb


def test_manifest_split_is_used_unless_data_split_is_set(store):
    image_set = load_image_set(
        store=store, manifest_key="datasets/ds-shapes/manifest.json", val_fraction=None, seed=0
    )
    assert (len(image_set.train), len(image_set.val)) == (27, 9)
    assert image_set.class_counts(image_set.val) == [3, 3, 3]


def test_data_split_resplits_stratified_and_seeded(store):
    load = lambda seed: load_image_set(  # noqa: E731
        store=store, manifest_key="datasets/ds-shapes/manifest.json", val_fraction=0.5, seed=seed
    )
    first, again, other = load(1), load(1), load(2)
    assert first.class_counts(first.val) == [6, 6, 6]
    np.testing.assert_array_equal(first.val, again.val)
    assert not np.array_equal(first.val, other.val)


@pytest.mark.parametrize(
    ("counts", "fraction", "val_counts"),
    [([10, 10], 0.2, [2, 2]), ([10, 3], 0.2, [2, 1]), ([2, 5], 0.1, [1, 1]), ([1, 4], 0.5, [0, 2])],
)
def test_stratified_split_keeps_at_least_one_of_each_side_per_class(counts, fraction, val_counts):
    labels = np.repeat(np.arange(len(counts)), counts)
    train, val = stratified_split(labels, val_fraction=fraction, seed=0)
    assert np.bincount(labels[val], minlength=len(counts)).tolist() == val_counts
    assert sorted([*train, *val]) == list(range(len(labels)))


def test_a_class_without_training_images_is_refused_by_name(store):
    manifest = DatasetManifest.model_validate_json(store.get_bytes("datasets/ds-shapes/manifest.json"))
    for item in manifest.items:
        if item.label == "square":
            item.split = "val"
    store.put_bytes("datasets/ds-shapes/manifest.json", manifest.model_dump_json().encode())
    with pytest.raises(DatasetUnusable, match="square"):
        load_image_set(
            store=store, manifest_key="datasets/ds-shapes/manifest.json", val_fraction=None, seed=0
        )


def test_images_decoded_in_parallel_keep_manifest_order_and_a_bad_one_is_named(store, spec_for):
    key = spec_for().manifest_key
    manifest = DatasetManifest.model_validate_json(store.get_bytes(key))
    pack = bytearray(store.get_bytes(manifest.pack_key))
    expected = [np.asarray(decode_rgb(bytes(pack[i.offset : i.offset + i.length]))) for i in manifest.items]

    image_set = load_image_set(store=store, manifest_key=key, val_fraction=None, seed=0)

    assert len(image_set.images) == len(expected)
    for image, pixels in zip(image_set.images, expected, strict=True):
        np.testing.assert_array_equal(np.asarray(image), pixels)
    bad = manifest.items[len(manifest.items) // 2]
    pack[bad.offset : bad.offset + bad.length] = b"\0" * bad.length
    store.put_bytes(manifest.pack_key, bytes(pack))
    with pytest.raises(DatasetUnusable, match=re.escape(repr(bad.source))):
        load_image_set(store=store, manifest_key=key, val_fraction=None, seed=0)


def test_a_missing_manifest_says_to_upload_again(store):
    with pytest.raises(DatasetUnusable, match="upload"):
        load_image_set(store=store, manifest_key="datasets/nope/manifest.json", val_fraction=None, seed=0)


@pytest.mark.parametrize(
    ("weighting", "counts", "expected"),
    [
        ("auto", [10, 10, 12], None),
        ("auto", [30, 10], [40 / 60, 40 / 20]),
        ("balanced", [10, 10], [1.0, 1.0]),
        ("none", [100, 1], None),
    ],
)
def test_class_weights(weighting, counts, expected):
    weights = class_weights(parse_config({"class_weighting": weighting}), counts)
    assert weights == (None if expected is None else pytest.approx(expected))


def test_confusion_matrix_and_per_class_scores_by_hand():
    labels, predicted = np.array([0, 0, 1, 1, 1, 2]), np.array([0, 1, 1, 1, 0, 1])
    matrix = confusion_matrix(labels, predicted, 3)
    assert matrix.tolist() == [[1, 1, 0], [1, 2, 0], [0, 1, 0]]
    scores = per_class_scores(matrix, ["a", "b", "c"])
    assert scores["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert scores["b"] == pytest.approx({"precision": 0.5, "recall": 2 / 3, "f1": 4 / 7, "support": 3})
    assert scores["c"] == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1})


def test_augmented_batch_has_the_input_size_in_unit_range_and_varies_with_the_generator():
    src = torch.randint(0, 256, (4, 3, 40, 40), dtype=torch.uint8)
    make = lambda seed: augment_batch(  # noqa: E731
        src, size=32, scale_min=0.3, jitter=0.2, trivial=True, generator=torch.Generator().manual_seed(seed)
    )
    torch.manual_seed(0)
    a = make(0)
    torch.manual_seed(0)
    assert a.shape == (4, 3, 32, 32) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, make(0)) and not torch.equal(a, make(1))
