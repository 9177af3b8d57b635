"""MiniLM sentence embeddings of every text, computed once per (data set, tokenizer, max length) and kept
in the object store like image features, so a quick run trains only a head."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable

import numpy as np
import torch
from common.events import PhaseEvent
from common.store import ObjectStore

from trainer.training.core.device import Device
from trainer.training.core.export import cpu_session, export_onnx
from trainer.training.core.task import ExportInputs
from trainer.training.text.minilm import MiniLm
from trainer.training.text.train import length_sorted_chunks

FORMAT_VERSION = 1
BATCH = 64


def embedding_cache_key(*, dataset_id: str, tokenizer_sha256: str, max_length: int) -> str:
    identity = json.dumps({"v": FORMAT_VERSION, "tok": tokenizer_sha256, "max_length": max_length})
    return f"features/{dataset_id}/minilm-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.npz"


def compute_embeddings(encoder: MiniLm, ids: np.ndarray, device: Device) -> np.ndarray:
    """float32 [N, 384] in row order. On CPU through ONNX Runtime (faster than eager PyTorch)."""
    encoder.eval()
    chunks, restore = length_sorted_chunks(ids, BATCH)
    if device.torch.type == "cpu":
        example = torch.ones(1, 4, dtype=torch.int64)
        graph = export_onnx(
            encoder,
            ExportInputs((example,), ("input_ids",), {"input_ids": {1: "length"}}),
            output_name="embedding",
        )
        session = cpu_session(graph, threads=torch.get_num_threads())
        out = [session.run(["embedding"], {"input_ids": chunk})[0] for chunk in chunks]
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
    report: Callable[[dict], None],
) -> np.ndarray:
    cached = _load(store, key, rows=len(ids))
    report(PhaseEvent(phase="features", cached=cached is not None, key=key))
    if cached is not None:
        return cached
    embeddings = compute_embeddings(encoder, ids, device)
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
