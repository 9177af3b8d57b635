"""The frozen backbone as ONNX, exported once per (backbone, weights, input size) and kept in the store,
and the quick model as that graph with the linear head appended: a quick run exports nothing.

    pretrained/onnx/<backbone>-<weights>-<size>-opset<N>-v<V>.onnx        input "input" -> "features"
    pretrained/onnx/<backbone>-<weights>-<size>-opset<N>-v<V>.state.npz   the backbone's state dict
    pretrained/onnx/<backbone>-<weights>-<size>-opset<N>-v<V>.json        normalisation, feature size

The three together are a *prepared* backbone (the JSON is written last: its presence means the other
two are complete). With one, a quick run on CPU needs no torch at all (``image/quick_cpu.py``): ONNX
Runtime computes the features, ``linear_probe`` fits the head in numpy, this module appends it,
``core/torch_file`` writes ``model.pt`` from the state dict. Preparing needs torch, once per
(backbone, weights, size): ``prepare_backbone``, which the first torch run of a backbone also does on its way.

Composition appends the feature normalisation (``feature_norm.onnx_nodes``; none for text) and one
``Gemm(features, W, b, transB=1)`` node: what ``FeatureNorm`` and ``nn.Linear`` export to (the
dropout is the identity at inference), so the composed graph computes exactly
``normalise(backbone(x)) @ W.T + b``. The run still checks it against the head on the cached features.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from common.store import ObjectStore
from onnx import TensorProto, helper, numpy_helper

from trainer.training.core.task import OPSET
from trainer.training.image.feature_norm import FeatureNorm, onnx_nodes
from trainer.training.image.weights import STORE_PREFIX, weights_file_name

FORMAT_VERSION = 1
FEATURES = "features"


def backbone_onnx_key(*, backbone: str, weights: str, input_size: int) -> str:
    stem = weights.rsplit(".", 1)[0]
    return f"{STORE_PREFIX}onnx/{backbone}-{stem}-{input_size}-opset{OPSET}-v{FORMAT_VERSION}.onnx"


@dataclass(frozen=True)
class PreparedBackbone:
    graph: bytes  # "input" [batch, 3, S, S] -> "features" [batch, d]
    state: dict[str, np.ndarray]  # the classifier's backbone tensors ("stages.*"), in order
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    feature_dim: int


def pretrained_onnx_key(backbone: str, *, input_size: int) -> str | None:
    """The store key of ``backbone``'s graph with its offline pretrained weights (None: it has none,
    and a randomly initialised backbone is never cached)."""
    weights = weights_file_name(backbone)
    if weights is None:
        return None
    return backbone_onnx_key(backbone=backbone, weights=weights, input_size=input_size)


def _sidecar_keys(onnx_key: str) -> tuple[str, str]:
    stem = onnx_key.removesuffix(".onnx")
    return stem + ".state.npz", stem + ".json"


def is_prepared(store: ObjectStore, onnx_key: str) -> bool:
    return store.exists(_sidecar_keys(onnx_key)[1])


def load_prepared(store: ObjectStore, onnx_key: str) -> PreparedBackbone | None:
    """The prepared backbone, or None when it has not been prepared (yet) in this store."""
    state_key, meta_key = _sidecar_keys(onnx_key)
    if not store.exists(meta_key):
        return None
    meta = json.loads(store.get_bytes(meta_key))
    with np.load(io.BytesIO(store.get_bytes(state_key)), allow_pickle=False) as npz:
        state = {name: npz[name] for name in npz.files}
    return PreparedBackbone(
        graph=store.get_bytes(onnx_key),
        state=state,
        mean=tuple(meta["mean"]),
        std=tuple(meta["std"]),
        feature_dim=int(meta["feature_dim"]),
    )


def save_prepared(
    store: ObjectStore,
    onnx_key: str,
    *,
    state: Mapping[str, np.ndarray],
    mean: tuple[float, ...],
    std: tuple[float, ...],
    feature_dim: int,
) -> None:
    """The state dict and the metadata beside an already stored backbone graph (metadata last)."""
    state_key, meta_key = _sidecar_keys(onnx_key)
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    store.put_bytes(state_key, buffer.getvalue())
    meta = {"mean": list(mean), "std": list(std), "feature_dim": feature_dim}
    store.put_bytes(meta_key, json.dumps(meta).encode(), content_type="application/json")


def prepare_backbone(
    *, store: ObjectStore, backbone: str, image_size: int, weights_dir: Path | None = None
) -> str | None:
    """Export and store a pretrained backbone's graph, state and metadata unless they are there;
    returns its ONNX key (None: a backbone without weights, which is never cached). Imports torch."""
    from trainer.training.image.features import export_backbone
    from trainer.training.image.models import build_classifier, preprocessing_for

    key = pretrained_onnx_key(backbone, input_size=image_size)
    if key is None:
        return None
    if load_prepared(store, key) is not None:
        return key
    model, built = build_classifier(
        backbone, num_classes=2, dropout=0.0, store=store, weights_dir=weights_dir
    )
    prep = preprocessing_for(built, image_size=image_size, resize=image_size)
    load_or_export_backbone(store=store, key=key, export=lambda: export_backbone(model, prep))
    save_prepared(
        store, key, state=backbone_state(model), mean=built.mean, std=built.std, feature_dim=built.feature_dim
    )
    return key


def backbone_state(model: object) -> dict[str, np.ndarray]:
    """An ``ImageClassifier``'s backbone tensors ("stages.*") as numpy, in state-dict order."""
    return {
        name: tensor.detach().cpu().numpy()
        for name, tensor in model.state_dict().items()  # type: ignore[attr-defined]
        if name.startswith("stages.")
    }


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
    backbone: bytes,
    *,
    weight: np.ndarray,
    bias: np.ndarray,
    output: str = "logits",
    feature_norm: FeatureNorm = "none",
) -> bytes:
    """The backbone graph ("input" -> "features" [batch, d]) with ``normalise(features, feature_norm)
    @ weight.T + bias`` appended."""
    model = onnx.load_from_string(backbone)
    graph = model.graph
    norm_nodes, norm_initializers, head_input = onnx_nodes(feature_norm, FEATURES)
    graph.initializer.extend(
        [
            *norm_initializers,
            numpy_helper.from_array(np.ascontiguousarray(weight, dtype=np.float32), "head.weight"),
            numpy_helper.from_array(np.ascontiguousarray(bias, dtype=np.float32), "head.bias"),
        ]
    )
    graph.node.extend(norm_nodes)
    graph.node.append(
        helper.make_node("Gemm", [head_input, "head.weight", "head.bias"], [output], transB=1, name="head")
    )
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info(output, TensorProto.FLOAT, ["batch", int(weight.shape[0])])
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()
