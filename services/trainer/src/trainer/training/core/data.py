"""What every task's data loading shares: the manifest, the train/validation split, the usability checks."""

from __future__ import annotations

from collections import Counter

import numpy as np
from common.contracts import DatasetManifest
from common.store import ObjectNotFound, ObjectStore
from common.training_config import LoopConfig

from trainer.training.core.task import LabelledSet
from trainer.training.errors import DatasetUnusable


def read_manifest(store: ObjectStore, key: str) -> DatasetManifest:
    try:
        return DatasetManifest.model_validate_json(store.get_bytes(key))
    except ObjectNotFound as e:
        raise DatasetUnusable(f"the data set manifest {key} is missing; upload the data set again") from e


def split_indices(
    manifest: DatasetManifest, labels: np.ndarray, *, val_fraction: float | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``val_fraction`` set: a seeded stratified re-split; else the manifest's split."""
    if val_fraction is None:
        is_val = np.asarray([item.split == "val" for item in manifest.items], dtype=bool)
        return np.flatnonzero(~is_val), np.flatnonzero(is_val)
    return stratified_split(labels, val_fraction=val_fraction, seed=seed)


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


def check_usable(data: LabelledSet, *, unit: str) -> None:
    """Every class has training ``unit``s (e.g. "images") and the validation split is not empty."""
    if len(data.classes) < 2:
        raise DatasetUnusable("a classifier needs at least two classes")
    counts = Counter(data.labels[data.train].tolist())
    empty = [name for i, name in enumerate(data.classes) if counts[i] == 0]
    if empty:
        raise DatasetUnusable(f"classes without training {unit}: {', '.join(empty)}; add {unit} to them")
    if len(data.val) == 0:
        raise DatasetUnusable(f"the validation split is empty; upload more {unit} or set data_split")


IMBALANCE_RATIO = 1.5


def class_weights(config: LoopConfig, train_counts: list[int]) -> list[float] | None:
    """'balanced': n / (classes * count); 'auto': balanced once the largest class is 1.5x the smallest."""
    counts = np.asarray(train_counts, dtype=np.float64)
    imbalanced = counts.max() >= IMBALANCE_RATIO * counts.min()
    if config.class_weighting == "none" or (config.class_weighting == "auto" and not imbalanced):
        return None
    return (counts.sum() / (len(counts) * counts)).tolist()
