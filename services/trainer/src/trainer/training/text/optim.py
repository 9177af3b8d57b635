"""The optimizer of a token model: the run's optimizer for every dense parameter and, for an embedding
table with sparse gradients (fastText's), ``SparseAdam`` on the rows each step used ("lazy" Adam, as
TensorFlow's LazyAdam and fastText-style trainers do). Together they act as one optimizer for the core
loop, the schedule and the checkpoint."""

from __future__ import annotations

from typing import Any

import torch
from common.training_config import LoopConfig
from torch import nn

from trainer.training.core.optim import build_optimizer, param_groups

SPARSE_OPTIMIZERS = ("adam", "adamw")


def sparse_embeddings_supported(config: LoopConfig) -> bool:
    """SGD keeps a dense table: its momentum (the user's setting) has no sparse form."""
    return config.optimizer in SPARSE_OPTIMIZERS


class JointOptimizer:
    """Several optimizers stepped together; ``param_groups`` lists all their groups (the schedule sets
    each group's lr), the state dict holds each one's."""

    def __init__(self, parts: list[torch.optim.Optimizer]) -> None:
        self.parts = parts

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [group for part in self.parts for group in part.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts:
            part.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for part in self.parts:
            part.step()

    def state_dict(self) -> dict[str, Any]:
        return {"parts": [part.state_dict() for part in self.parts]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for part, part_state in zip(self.parts, state["parts"], strict=True):
            part.load_state_dict(part_state)


def token_model_optimizer(config: LoopConfig, model: nn.Module) -> torch.optim.Optimizer | JointOptimizer:
    """The run's optimizer over ``model``; a table with sparse gradients gets ``SparseAdam`` (no weight
    decay: it has none, and decaying every row each step would make the update dense again)."""
    sparse = [m.weight for m in model.modules() if isinstance(m, nn.Embedding | nn.EmbeddingBag) and m.sparse]
    if not sparse:
        groups = param_groups(
            [(model, 1.0)], learning_rate=config.learning_rate, weight_decay=config.weight_decay
        )
        return build_optimizer(config, groups)
    sparse_ids = {id(p) for p in sparse}
    dense_groups = [
        {**group, "params": [p for p in group["params"] if id(p) not in sparse_ids]}
        for group in param_groups(
            [(model, 1.0)], learning_rate=config.learning_rate, weight_decay=config.weight_decay
        )
    ]
    lr = config.learning_rate
    table = torch.optim.SparseAdam(
        [{"params": sparse, "lr": lr, "base_lr": lr}], lr=lr, betas=(config.momentum, 0.999)
    )
    return JointOptimizer([table, build_optimizer(config, [g for g in dense_groups if g["params"]])])
