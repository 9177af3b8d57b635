"""What the linear head sees of the pooled backbone features (``ImageTrainConfig.feature_norm``).

``sqrt``: the signed square root ``sign(x) * (sqrt(|x| + EPS) - sqrt(EPS))``, power normalisation
(Perronnin et al., 2010). Pooled ReLU features are heavy-tailed (on flowers-5x100 half of
EfficientNet-Lite0's 1280 are exactly 0 and a few reach 6); the root evens them out, and a linear
probe on it scored 0.5-1 point higher in repeated 5-fold cross-validation (BENCHMARKS.md). ``EPS``
keeps its slope finite at 0 (at most 1 / (2 sqrt(EPS)) = 5) for fine-tuning through it.

The same function in three places, proven equal by a test: numpy (``normalise``: the quick path's
head), torch (``models.FeatureNorm``: the network fine-tuning trains and ``model.pt`` holds) and ONNX
(``onnx_nodes``: the served graph, appended before the head).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

FeatureNorm = Literal["sqrt", "none"]
EPS = 0.01


def normalise(features: np.ndarray, kind: FeatureNorm) -> np.ndarray:
    if kind == "none":
        return features
    x = features.astype(np.float32, copy=False)
    return (np.sign(x) * (np.sqrt(np.abs(x) + np.float32(EPS)) - np.float32(np.sqrt(EPS)))).astype(np.float32)


def onnx_nodes(kind: FeatureNorm, source: str, *, prefix: str = "feature_norm") -> tuple[list, list, str]:
    """(nodes, initializers, output name) computing ``normalise`` of tensor ``source`` in ONNX."""
    from onnx import helper, numpy_helper

    if kind == "none":
        return [], [], source
    eps, root = f"{prefix}.eps", f"{prefix}.sqrt_eps"
    initializers = [
        numpy_helper.from_array(np.asarray(EPS, np.float32), eps),
        numpy_helper.from_array(np.asarray(np.sqrt(EPS), np.float32), root),
    ]
    names = [f"{prefix}.{step}" for step in ("abs", "shifted", "root", "centred", "sign", "out")]
    nodes = [
        helper.make_node("Abs", [source], [names[0]]),
        helper.make_node("Add", [names[0], eps], [names[1]]),
        helper.make_node("Sqrt", [names[1]], [names[2]]),
        helper.make_node("Sub", [names[2], root], [names[3]]),
        helper.make_node("Sign", [source], [names[4]]),
        helper.make_node("Mul", [names[4], names[3]], [names[5]]),
    ]
    return nodes, initializers, names[5]
