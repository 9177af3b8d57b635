"""The store's cache of pooled backbone features: one ``.npz`` per (data set, backbone, preprocessing,
views, weights), float32 [num_images, feature_dim] per view in manifest order. No torch here: the quick
path on CPU reads and writes it without importing torch."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
from common.imaging import Preprocessing
from common.store import ObjectStore

FORMAT_VERSION = 1


def feature_cache_key(
    *, dataset_id: str, backbone: str, prep: Preprocessing, views: list[str], weights: str
) -> str:
    identity = json.dumps(
        {"v": FORMAT_VERSION, "prep": prep.as_dict(), "views": views, "weights": weights}, sort_keys=True
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return f"features/{dataset_id}/{backbone}-{prep.input_size}-{digest}.npz"


def load_features(
    store: ObjectStore, key: str, *, views: list[str], num_images: int
) -> dict[str, np.ndarray] | None:
    """The cached features, or None when there are none (or they do not fit this data set)."""
    if not store.exists(key):
        return None
    with np.load(io.BytesIO(store.get_bytes(key)), allow_pickle=False) as npz:
        if set(npz.files) != set(views) or any(npz[v].shape[0] != num_images for v in views):
            return None
        return {view: npz[view] for view in views}


def save_features(store: ObjectStore, key: str, features: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **features)
    store.put_bytes(key, buffer.getvalue())
