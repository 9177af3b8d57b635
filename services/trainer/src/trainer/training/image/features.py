"""Pooled backbone features of every image, computed once per (data set, backbone, preprocessing) and
kept in the object store, so a quick run (or a fine-tuning run's linear probe) trains only a head."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from common.events import PhaseEvent, Report
from common.imaging import Preprocessing
from common.store import ObjectStore
from torch import nn

from trainer.training.core.device import Device
from trainer.training.core.export import export_onnx
from trainer.training.core.task import ExportInputs
from trainer.training.image.data import ImageSet, eval_batch
from trainer.training.image.feature_cache import feature_cache_key, load_features, save_features
from trainer.training.image.models import ImageClassifier
from trainer.training.image.onnx_features import onnx_features
from trainer.training.image.preprocessing import device_images
from trainer.training.progress import PhaseCounter

BATCH = 32  # images per forward pass on an accelerator: bounds peak memory (activations at 224 px)


def compute_features(
    model: ImageClassifier,
    image_set: ImageSet,
    *,
    prep: Preprocessing,
    views: list[str],
    device: Device,
    backbone_graph: Callable[[], bytes] | None = None,
    counter: PhaseCounter | None = None,
) -> dict[str, np.ndarray]:
    """float32 [num_images, feature_dim] per view, in manifest order ("center" and "flip" views).
    On CPU, through ONNX Runtime on ``backbone_graph()`` (default: exported here). ``counter``
    counts the images done, batch by batch."""
    model.eval()
    if device.torch.type == "cpu":
        graph = backbone_graph() if backbone_graph else export_backbone(model, prep)
        features, _ = onnx_features(
            graph, image_set.images, prep, views=views, on_batch=counter.update if counter else None
        )
        return features
    extract = _torch_extractor(model, device, prep)
    out: dict[str, list[np.ndarray]] = {view: [] for view in views}
    order = np.arange(len(image_set.images))
    for start in range(0, len(order), BATCH):
        pixels = eval_batch(
            image_set.images, order[start : start + BATCH], resize=prep.resize, size=prep.input_size
        )
        for view in views:
            out[view].append(extract(np.ascontiguousarray(pixels[:, :, ::-1] if view == "flip" else pixels)))
        if counter is not None:
            counter.advance(len(pixels))
    return {view: np.concatenate(chunks) for view, chunks in out.items()}


def _torch_extractor(
    model: ImageClassifier, device: Device, prep: Preprocessing
) -> Callable[[np.ndarray], np.ndarray]:
    def extract(pixels: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), device.autocast():
            return model.features(device_images(pixels, prep, device)).float().cpu().numpy()

    return extract


def export_backbone(model: ImageClassifier, prep: Preprocessing) -> bytes:
    """The frozen stages as ONNX: "input" [batch, 3, S, S] -> "features" [batch, d]."""
    example = torch.zeros(1, 3, prep.input_size, prep.input_size)
    return export_onnx(
        nn.Sequential(*model.stages),
        ExportInputs(examples=(example,), names=("input",)),
        output_name="features",
    )


def load_or_compute_features(
    *,
    store: ObjectStore,
    key: str,
    model: ImageClassifier,
    image_set: ImageSet,
    prep: Preprocessing,
    views: list[str],
    device: Device,
    report: Report,
    backbone_graph: Callable[[], bytes] | None = None,
) -> dict[str, np.ndarray]:
    cached = load_features(store, key, views=views, num_images=len(image_set.images))
    report(PhaseEvent(phase="features", cached=cached is not None, key=key))
    if cached is not None:
        return cached
    counter = PhaseCounter(report, phase="features", total=len(image_set.images), unit="images")
    features = compute_features(
        model,
        image_set,
        prep=prep,
        views=views,
        device=device,
        backbone_graph=backbone_graph,
        counter=counter,
    )
    save_features(store, key, features)
    return features


__all__ = ["compute_features", "export_backbone", "feature_cache_key", "load_or_compute_features"]
