"""The epoch checkpoint in the object store: ``<output_prefix>checkpoint.pt``, written by rank 0 only.

``{model, optimizer, epoch, config, history, world_size}`` as torchvision's references keep it (no
scheduler state: the learning rate is a function of the epoch). Only tensors and plain types, so it
loads with ``weights_only=True``. A pod that is lost resumes from the last finished epoch.
"""

from __future__ import annotations

import io
from typing import Any

import torch
from common.store import ObjectStore

from trainer.imagenet.config import ImageNetTrainConfig

CHECKPOINT_NAME = "checkpoint.pt"
# What may differ between the run that wrote a checkpoint and the one resuming it: how it is executed,
# not what is trained.
OPERATIONAL_FIELDS = {"data_dir", "data_format", "workers", "compile", "output_prefix"}


class CheckpointMismatch(ValueError):
    """A checkpoint exists under the prefix but was made with another recipe."""


def checkpoint_key(config: ImageNetTrainConfig) -> str:
    return config.output_prefix + CHECKPOINT_NAME


def save_checkpoint(store: ObjectStore, config: ImageNetTrainConfig, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save({**payload, "config": config.model_dump(mode="json")}, buffer)
    store.put_bytes(checkpoint_key(config), buffer.getvalue())


def _recipe(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in OPERATIONAL_FIELDS}


def load_checkpoint(store: ObjectStore, config: ImageNetTrainConfig) -> dict[str, Any] | None:
    """The checkpoint under the config's prefix, or None; refuses one of a different recipe rather than
    silently starting over on top of it."""
    key = checkpoint_key(config)
    if not store.exists(key):
        return None
    payload = torch.load(io.BytesIO(store.get_bytes(key)), map_location="cpu", weights_only=True)
    saved, wanted = _recipe(payload["config"]), _recipe(config.model_dump(mode="json"))
    if saved != wanted:
        fields = sorted(k for k in saved.keys() | wanted.keys() if saved.get(k) != wanted.get(k))
        raise CheckpointMismatch(
            f"{key} was written by a run with different {', '.join(fields)}: resume with the same "
            "recipe, or give this run its own output_prefix"
        )
    return payload
