"""The whole image data set, decoded once into memory (one read of the pack object)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from common.contracts import DatasetManifest
from common.decoding import DecodeError
from common.imaging import eval_pixels
from common.store import ObjectNotFound, ObjectStore
from PIL import Image

from trainer.training.errors import DatasetUnusable
from trainer.training.preprocessing import decode_rgb


@dataclass
class ImageSet:
    """All images of a data set in manifest order; ``train``/``val`` index into ``images``."""

    dataset_id: str
    classes: list[str]
    images: list[Image.Image]
    labels: np.ndarray  # int64 class index per image
    train: np.ndarray  # int64 indices
    val: np.ndarray

    def class_counts(self, indices: np.ndarray) -> list[int]:
        return np.bincount(self.labels[indices], minlength=len(self.classes)).tolist()


def read_manifest(store: ObjectStore, key: str) -> DatasetManifest:
    try:
        return DatasetManifest.model_validate_json(store.get_bytes(key))
    except ObjectNotFound as e:
        raise DatasetUnusable(f"the data set manifest {key} is missing; upload the data set again") from e


def load_image_set(
    *, store: ObjectStore, manifest_key: str, val_fraction: float | None, seed: int
) -> ImageSet:
    """Decode every image. ``val_fraction`` set: a seeded stratified re-split; else the manifest's split."""
    manifest = read_manifest(store, manifest_key)
    if manifest.kind != "image" or not manifest.pack_key:
        raise DatasetUnusable(f"data set {manifest.dataset_id} holds {manifest.kind} data, not images")
    if len(manifest.classes) < 2:
        raise DatasetUnusable("a classifier needs at least two classes; add a folder per class")
    pack = store.get_bytes(manifest.pack_key)
    index = {name: i for i, name in enumerate(manifest.classes)}
    images, labels = [], []
    for item in manifest.items:
        if item.offset is None or item.length is None or item.label not in index:
            raise DatasetUnusable(f"manifest item {item.source!r} has no image bytes or an unknown label")
        try:
            images.append(decode_rgb(pack[item.offset : item.offset + item.length]))
        except DecodeError as e:
            raise DatasetUnusable(
                f"image {item.source!r} cannot be decoded; remove it and upload again"
            ) from e
        labels.append(index[item.label])
    labels_arr = np.asarray(labels, dtype=np.int64)
    if val_fraction is None:
        is_val = np.asarray([item.split == "val" for item in manifest.items])
        train, val = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    else:
        train, val = stratified_split(labels_arr, val_fraction=val_fraction, seed=seed)
    image_set = ImageSet(manifest.dataset_id, list(manifest.classes), images, labels_arr, train, val)
    _check_usable(image_set)
    return image_set


def stratified_split(labels: np.ndarray, *, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class, a seeded shuffle; round(n * val_fraction) go to validation, at least one while n >= 2."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        n_val = min(max(round(len(members) * val_fraction), 1 if len(members) >= 2 else 0), len(members) - 1)
        val.extend(members[:n_val])
        train.extend(members[n_val:])
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64))


def _check_usable(image_set: ImageSet) -> None:
    counts = Counter(image_set.labels[image_set.train].tolist())
    empty = [name for i, name in enumerate(image_set.classes) if counts[i] == 0]
    if empty:
        raise DatasetUnusable(f"classes without training images: {', '.join(empty)}; add images to them")
    if len(image_set.val) == 0:
        raise DatasetUnusable("the validation split is empty; upload more images or set data_split")


def eval_batch(images: list[Image.Image], indices: np.ndarray, *, resize: int, size: int) -> np.ndarray:
    """uint8 NHWC centre crops (the inference transform before normalisation)."""
    out = np.empty((len(indices), size, size, 3), dtype=np.uint8)
    for row, i in enumerate(indices):
        out[row] = eval_pixels(images[i], resize=resize, size=size)
    return out
