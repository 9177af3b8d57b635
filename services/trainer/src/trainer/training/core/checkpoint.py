"""The epoch checkpoint ``<output_prefix>checkpoint.pt``: {model, optimizer, lr_scheduler, epoch, config...}.

Written to the store after every epoch (the store writes atomically); a run that finds one resumes from
it. Only tensors and plain types inside, so it loads with ``weights_only=True``.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import torch
from common.store import ObjectStore
from common.training_config import LoopConfig
from torch import nn

if TYPE_CHECKING:
    from trainer.training.core.loop import FitState
    from trainer.training.core.optim import LrScheduler

CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointStore:
    def __init__(self, *, store: ObjectStore, output_prefix: str, generator: torch.Generator) -> None:
        self.store = store
        self.key = output_prefix + CHECKPOINT_NAME
        self.generator = generator

    def save(
        self,
        *,
        module: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: LrScheduler,
        config: LoopConfig,
        state: FitState,
    ) -> None:
        payload = {
            "model": module.state_dict(),
            "optimizer": optimizer.state_dict(),
            "lr_scheduler": scheduler.state_dict(),
            "epoch": state.epoch,
            "config": config.model_dump(mode="json"),
            "fit_state": {k: v for k, v in state.as_dict().items() if k != "epoch"},
            "rng": {"torch": torch.get_rng_state(), "generator": self.generator.get_state()},
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        self.store.put_bytes(self.key, buffer.getvalue())

    def load(self, config: LoopConfig) -> dict[str, Any] | None:
        """The saved checkpoint of this same config, or None (none yet, or one of another config)."""
        if not self.store.exists(self.key):
            return None
        payload = torch.load(
            io.BytesIO(self.store.get_bytes(self.key)), map_location="cpu", weights_only=True
        )
        if payload.get("config") != config.model_dump(mode="json"):
            return None
        return payload

    def restore(
        self,
        payload: dict[str, Any],
        *,
        module: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: LrScheduler,
    ) -> FitState:
        from trainer.training.core.loop import FitState

        module.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["lr_scheduler"])
        torch.set_rng_state(payload["rng"]["torch"])
        self.generator.set_state(payload["rng"]["generator"])
        return FitState(epoch=int(payload["epoch"]), **payload["fit_state"])
