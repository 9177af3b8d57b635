"""Pooled backbone features on CPU through ONNX Runtime, without torch: the one feature extractor of
every CPU run (the quick path and the torch path's frozen backbone alike).

Data-parallel: one single-threaded ONNX Runtime session per core, each thread cropping, normalising
and running its own small batches. On 2 cores this took 1.6-2.0 s for 500 images at 224 px where one
session with 2 intra-op threads took 2.7 s (its threads meet at a barrier after every operator of a
small network; BENCHMARKS.md), and the crops run in the same threads instead of beside them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from common.imaging import Preprocessing, normalize
from PIL import Image

from trainer.training.core.threads import cpu_threads
from trainer.training.image.data import eval_batch

BATCH = 2  # images per call: activations stay in cache (2-4 per call measured fastest)


def single_thread_session(graph: bytes) -> object:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def onnx_features(
    graph: bytes,
    images: list[Image.Image],
    prep: Preprocessing,
    *,
    views: list[str],
    keep: np.ndarray | None = None,
    on_batch: Callable[[int], None] | None = None,
    threads: int | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(float32 [n, d] per view in ``images`` order, uint8 NHWC centre crops of the images ``keep``
    indexes). ``graph``: "input" [batch, 3, S, S] -> "features" [batch, d]; ``views``: "center" and/or
    "flip". ``on_batch(images_done)`` is called from this thread, in order."""
    threads = threads or cpu_threads()
    keep = np.zeros(0, np.int64) if keep is None else np.asarray(keep, np.int64)
    kept = np.zeros((len(keep), prep.input_size, prep.input_size, 3), np.uint8)
    if not images:
        return {view: np.zeros((0, 0), np.float32) for view in views}, kept
    batches = [np.arange(s, min(s + BATCH, len(images))) for s in range(0, len(images), BATCH)]
    slot = {int(i): k for k, i in enumerate(keep)}
    local = threading.local()

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        if not hasattr(local, "session"):
            local.session = single_thread_session(graph)
        pixels = eval_batch(images, batch, resize=prep.resize, size=prep.input_size)
        for row, i in enumerate(batch):
            if int(i) in slot:
                kept[slot[int(i)]] = pixels[row]
        out = {}
        for view in views:
            x = np.ascontiguousarray(pixels[:, :, ::-1] if view == "flip" else pixels)
            out[view] = local.session.run(["features"], {"input": normalize(x, prep)})[0]
        return out

    chunks: dict[str, list[np.ndarray]] = {view: [] for view in views}
    done = 0
    with ThreadPoolExecutor(max_workers=min(threads, len(batches))) as pool:
        for batch, out in zip(batches, pool.map(run, batches), strict=True):
            for view in views:
                chunks[view].append(out[view])
            done += len(batch)
            if on_batch is not None:
                on_batch(done)
    return {view: np.concatenate(parts) for view, parts in chunks.items()}, kept
