"""The text data set: every text and label of the manifest, in memory, tokenized once."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from common.store import ObjectStore

from trainer.training.core.data import check_usable, read_manifest, split_indices
from trainer.training.core.task import LabelledSet
from trainer.training.errors import DatasetUnusable


@dataclass
class TextSet(LabelledSet):
    """All texts of a data set in manifest order; ``train``/``val`` index into ``texts``."""

    texts: list[str] = field(default_factory=list)


def load_text_set(*, store: ObjectStore, manifest_key: str, val_fraction: float | None, seed: int) -> TextSet:
    manifest = read_manifest(store, manifest_key)
    if manifest.kind != "text":
        raise DatasetUnusable(f"data set {manifest.dataset_id} holds {manifest.kind} data, not texts")
    index = {name: i for i, name in enumerate(manifest.classes)}
    texts, labels = [], []
    for item in manifest.items:
        if item.text is None or item.label not in index:
            raise DatasetUnusable(f"manifest item {item.source!r} has no text or an unknown label")
        texts.append(item.text)
        labels.append(index[item.label])
    labels_arr = np.asarray(labels, dtype=np.int64)
    train, val = split_indices(manifest, labels_arr, val_fraction=val_fraction, seed=seed)
    text_set = TextSet(
        dataset_id=manifest.dataset_id,
        classes=list(manifest.classes),
        labels=labels_arr,
        train=train,
        val=val,
        texts=texts,
    )
    check_usable(text_set, unit="texts")
    return text_set


def padded(ids: np.ndarray) -> np.ndarray:
    """Drop the columns that are padding in every row (at least one column stays)."""
    used = np.flatnonzero((ids != 0).any(0))
    return ids[:, : max(int(used[-1]) + 1 if len(used) else 1, 1)]
