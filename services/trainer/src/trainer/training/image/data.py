"""The whole image data set, decoded once into memory (one read of the pack object)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from common.contracts import ManifestItem, TrainingSpec
from common.decoding import DecodeError
from common.events import Report
from common.imaging import eval_pixels
from common.store import ObjectStore
from common.training_config import ImageTrainConfig
from PIL import Image

from trainer.training.core.data import check_usable, read_manifest, split_indices
from trainer.training.core.task import LabelledSet
from trainer.training.core.threads import cpu_threads
from trainer.training.errors import DatasetUnusable
from trainer.training.image.preprocessing import decode_rgb
from trainer.training.progress import image_loading_counter, no_report


@dataclass
class ImageSet(LabelledSet):
    """All images of a data set in manifest order; ``train``/``val`` index into ``images``."""

    images: list[Image.Image] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # the file names in the upload


def load_run_images(
    spec: TrainingSpec, config: ImageTrainConfig, *, store: ObjectStore, report: Report = no_report
) -> ImageSet:
    """The images of a run, as its config asks (split, exclusions, reduced-scale decoding down to the
    resize), counting them into the loading phase: the one call of both image paths."""
    return load_image_set(
        store=store,
        manifest_key=spec.manifest_key,
        val_fraction=config.data_split,
        seed=config.seed,
        exclude=config.exclude,
        min_shorter_side=config.resize,
        on_decoded=image_loading_counter(report),
    )


def load_image_set(
    *,
    store: ObjectStore,
    manifest_key: str,
    val_fraction: float | None,
    seed: int,
    exclude: list[str] | None = None,
    min_shorter_side: int | None = None,
    on_decoded: Callable[[int, int], None] | None = None,
) -> ImageSet:
    """Decode every image. ``val_fraction`` set: a seeded stratified re-split; else the manifest's split.

    ``exclude``: file names left out of both splits (their images stay decoded, so cached features of
    the whole set still fit). ``min_shorter_side``: JPEGs may be decoded at a reduced scale down to it
    (the resize before the centre crop), as the inference service decodes them too. ``on_decoded(done,
    total)`` after each image (the loading counter).
    """
    manifest = read_manifest(store, manifest_key)
    if manifest.kind != "image" or not manifest.pack_key:
        raise DatasetUnusable(f"data set {manifest.dataset_id} holds {manifest.kind} data, not images")
    if len(manifest.classes) < 2:
        raise DatasetUnusable("a classifier needs at least two classes; add a folder per class")
    pack = store.get_bytes(manifest.pack_key)
    index = {name: i for i, name in enumerate(manifest.classes)}
    for item in manifest.items:
        if item.offset is None or item.length is None or item.label not in index:
            raise DatasetUnusable(f"manifest item {item.source!r} has no image bytes or an unknown label")
    labels = [index[item.label] for item in manifest.items]

    def decode(item: ManifestItem) -> Image.Image:
        try:
            data = pack[item.offset : item.offset + item.length]
            return decode_rgb(data, min_shorter_side=min_shorter_side)
        except DecodeError as e:
            raise DatasetUnusable(
                f"image {item.source!r} cannot be decoded; remove it and upload again"
            ) from e

    # PIL decodes without the GIL: one thread per core decodes in parallel.
    images: list[Image.Image] = []
    with ThreadPoolExecutor(max_workers=cpu_threads()) as pool:
        for image in pool.map(decode, manifest.items):
            images.append(image)
            if on_decoded is not None:
                on_decoded(len(images), len(manifest.items))
    labels_arr = np.asarray(labels, dtype=np.int64)
    train, val = split_indices(manifest, labels_arr, val_fraction=val_fraction, seed=seed)
    sources = [item.source for item in manifest.items]
    if exclude:
        unknown = sorted(set(exclude) - set(sources))
        if unknown:
            raise DatasetUnusable(
                f"exclude names {len(unknown)} files that are not in data set {manifest.dataset_id} "
                f"(e.g. {unknown[0]!r}); use the names data_issues.json or the data set report gives"
            )
        keep = ~np.isin(np.asarray(sources, dtype=object), list(exclude))
        train, val = train[keep[train]], val[keep[val]]
    image_set = ImageSet(
        dataset_id=manifest.dataset_id,
        classes=list(manifest.classes),
        labels=labels_arr,
        train=train,
        val=val,
        images=images,
        sources=sources,
        dataset_name=manifest.name,
    )
    check_usable(image_set, unit="images")
    return image_set


def eval_batch(images: list[Image.Image], indices: np.ndarray, *, resize: int, size: int) -> np.ndarray:
    """uint8 NHWC centre crops (the inference transform before normalisation)."""
    out = np.empty((len(indices), size, size, 3), dtype=np.uint8)
    for row, i in enumerate(indices):
        out[row] = eval_pixels(images[i], resize=resize, size=size)
    return out
