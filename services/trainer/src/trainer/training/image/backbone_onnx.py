"""The frozen backbone as ONNX, exported once per (backbone, weights, input size) and kept in the store,
and the quick model as that graph with the linear head appended: a quick run exports nothing.

    pretrained/onnx/<backbone>-<weights>-<size>-opset<N>-v<V>.onnx   input "input" -> "features"

Composition appends one ``Gemm(features, W, b, transB=1)`` node: what ``nn.Linear`` exports to (the
dropout before it is the identity at inference), so the composed graph computes exactly
``backbone(x) @ W.T + b``. The run still checks it against the head on the cached features.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from common.store import ObjectStore
from onnx import TensorProto, helper, numpy_helper

from trainer.training.core.export import OPSET
from trainer.training.image.weights import STORE_PREFIX

FORMAT_VERSION = 1
FEATURES = "features"


def backbone_onnx_key(*, backbone: str, weights: str, input_size: int) -> str:
    stem = weights.rsplit(".", 1)[0]
    return f"{STORE_PREFIX}onnx/{backbone}-{stem}-{input_size}-opset{OPSET}-v{FORMAT_VERSION}.onnx"


def load_or_export_backbone(
    *, store: ObjectStore, key: str | None, export: Callable[[], bytes]
) -> tuple[bytes, bool]:
    """(graph, was cached). ``key`` None: never cached (randomly initialised weights)."""
    if key is not None and store.exists(key):
        return store.get_bytes(key), True
    graph = export()
    if key is not None:
        store.put_bytes(key, graph)
    return graph, False


def compose_with_head(
    backbone: bytes, *, weight: np.ndarray, bias: np.ndarray, output: str = "logits"
) -> bytes:
    """The backbone graph ("input" -> "features" [batch, d]) with ``features @ weight.T + bias`` appended."""
    model = onnx.load_from_string(backbone)
    graph = model.graph
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.ascontiguousarray(weight, dtype=np.float32), "head.weight"),
            numpy_helper.from_array(np.ascontiguousarray(bias, dtype=np.float32), "head.bias"),
        ]
    )
    graph.node.append(
        helper.make_node("Gemm", [FEATURES, "head.weight", "head.bias"], [output], transB=1, name="head")
    )
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info(output, TensorProto.FLOAT, ["batch", int(weight.shape[0])])
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()
