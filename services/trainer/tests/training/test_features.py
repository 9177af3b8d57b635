"""Cached features: on CPU they come from ONNX Runtime; they must equal what PyTorch computes."""

from __future__ import annotations

import numpy as np
import torch
from common.imaging import eval_pixels, normalize
from trainer.training.core.device import Device
from trainer.training.image.data import load_image_set
from trainer.training.image.features import compute_features
from trainer.training.image.models import build_classifier, preprocessing_for


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
