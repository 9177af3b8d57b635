"""Cached features: on CPU they come from ONNX Runtime; they must equal what PyTorch computes."""

from __future__ import annotations

import numpy as np
import torch
from common.imaging import eval_pixels, normalize
from trainer.training.core.device import Device
from trainer.training.image.data import eval_batch, load_image_set
from trainer.training.image.features import compute_features, export_backbone
from trainer.training.image.models import build_classifier, preprocessing_for
from trainer.training.image.onnx_features import onnx_features


def test_onnx_runtime_features_match_pytorch_on_every_image_and_view(store, spec_for):
    image_set = load_image_set(store=store, manifest_key=spec_for().manifest_key, val_fraction=None, seed=0)
    model, built = build_classifier(
        "efficientnet_lite0", num_classes=3, dropout=0.0, store=store, weights_dir=None
    )
    model.eval()
    prep = preprocessing_for(built, image_size=96, resize=110)
    cpu = Device(torch.device("cpu"), None)

    features = compute_features(model, image_set, prep=prep, views=["center", "flip"], device=cpu)

    assert set(features) == {"center", "flip"}
    for view, flip in (("center", False), ("flip", True)):
        expected = []
        for image in image_set.images:
            pixels = eval_pixels(image, resize=prep.resize, size=prep.input_size)
            x = torch.from_numpy(normalize(pixels[:, ::-1] if flip else pixels, prep))[None]
            with torch.inference_mode():
                expected.append(model.features(x).numpy()[0])
        expected = np.stack(expected)
        assert features[view].shape == (len(image_set.images), built.feature_dim)
        assert features[view].dtype == np.float32
        np.testing.assert_allclose(features[view], expected, rtol=1e-3, atol=1e-4)
    # the mirror is a different view, not a copy
    assert np.abs(features["center"] - features["flip"]).max() > 1e-2


def test_data_parallel_onnx_features_keep_image_order_and_the_kept_crops(store, spec_for):
    image_set = load_image_set(store=store, manifest_key=spec_for().manifest_key, val_fraction=None, seed=0)
    model, built = build_classifier(
        "efficientnet_lite0", num_classes=3, dropout=0.0, store=store, weights_dir=None
    )
    prep = preprocessing_for(built, image_size=64, resize=73)
    graph = export_backbone(model.eval(), prep)
    keep = np.asarray([len(image_set.images) - 1, 0, 3])
    done: list[int] = []

    one, _ = onnx_features(graph, image_set.images, prep, views=["center"], threads=1)
    three, kept = onnx_features(
        graph, image_set.images, prep, views=["center"], keep=keep, threads=3, on_batch=done.append
    )

    np.testing.assert_array_equal(three["center"], one["center"])  # same numbers, same rows
    assert len(set(map(bytes, one["center"]))) == len(image_set.images)  # rows that could be swapped
    np.testing.assert_array_equal(kept, eval_batch(image_set.images, keep, resize=73, size=64))
    assert done == sorted(done) and done[-1] == len(image_set.images)
