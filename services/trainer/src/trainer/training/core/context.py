"""What every stage of a run needs: one object built by ``core.run.train_task`` and handed to the task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from common.events import Report
from common.training_config import LoopConfig
from torch import nn

from trainer.training.core.checkpoint import CheckpointStore
from trainer.training.core.data import class_weights
from trainer.training.core.device import Device
from trainer.training.core.task import LabelledSet

__all__ = ["TrainingContext", "class_weights", "make_loss", "shuffled_batches", "steps_per_epoch"]


@dataclass
class TrainingContext:
    config: LoopConfig
    data: LabelledSet
    model: nn.Module
    device: Device
    generator: torch.Generator
    checkpoints: CheckpointStore
    report: Report
    loss_fn: nn.Module
    class_weights: list[float] | None
    probe_history: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def make_loss(config: LoopConfig, weights: list[float] | None, device: Device) -> nn.Module:
    weight = torch.tensor(weights, dtype=torch.float32, device=device.torch) if weights else None
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Index batches of a fresh permutation; the last partial batch is dropped when there is a full one
    (a batch of one breaks batch norm and adds noise)."""
    order = torch.randperm(n, generator=generator)
    batches = list(order.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def steps_per_epoch(n: int, batch_size: int) -> int:
    return max(n // batch_size, 1)
