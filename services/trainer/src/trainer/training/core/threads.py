"""How many threads a run's CPU work uses (decoding, ONNX Runtime feature extraction)."""

from __future__ import annotations

import os

MAX_THREADS = 8


def cpu_threads() -> int:
    """``TRAINYARD_TRAINER_WORKER_THREADS`` when the operator set it (the local executor passes its
    ``worker_threads`` setting on), else the cores this process may run on, at most ``MAX_THREADS``."""
    configured = int(os.environ.get("TRAINYARD_TRAINER_WORKER_THREADS", "0") or 0)
    if configured > 0:
        return configured
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_THREADS))
