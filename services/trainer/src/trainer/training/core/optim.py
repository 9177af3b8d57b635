"""Optimizers and learning-rate schedules, chosen by name from small tables.

The schedule sets every parameter group's lr each step: ``base_lr * warmup * schedule(epoch) * plateau``.
Its state is a few numbers, so it goes into the checkpoint as is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from common.training_config import LoopConfig
from torch import nn

OPTIMIZERS: dict[str, Callable[[list[dict[str, Any]], LoopConfig], torch.optim.Optimizer]] = {
    "sgd": lambda groups, c: torch.optim.SGD(groups, lr=c.learning_rate, momentum=c.momentum),
    # fused: one kernel per step instead of a dozen passes over every parameter; 5x faster on CPU for a
    # 4M-parameter embedding table (fastText), same update.
    "adam": lambda groups, c: torch.optim.Adam(
        groups, lr=c.learning_rate, betas=(c.momentum, 0.999), fused=True
    ),
    "adamw": lambda groups, c: torch.optim.AdamW(
        groups, lr=c.learning_rate, betas=(c.momentum, 0.999), fused=True
    ),
}


def param_groups(
    modules: list[tuple[nn.Module, float]], *, learning_rate: float, weight_decay: float
) -> list[dict[str, Any]]:
    """One decayed and one undecayed (biases, norm layers) group per (module, lr scale)."""
    groups = []
    for module, scale in modules:
        params = [p for p in module.parameters() if p.requires_grad]
        decay = [p for p in params if p.ndim > 1]
        no_decay = [p for p in params if p.ndim <= 1]
        for members, wd in ((decay, weight_decay), (no_decay, 0.0)):
            if members:
                lr = learning_rate * scale
                groups.append({"params": members, "lr": lr, "base_lr": lr, "weight_decay": wd})
    return groups


def build_optimizer(config: LoopConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    return OPTIMIZERS[config.optimizer](groups, config)


def _constant(schedule, epochs: int, warmup: int) -> Callable[[float], float]:
    return lambda t: 1.0


def _step(schedule, epochs: int, warmup: int) -> Callable[[float], float]:
    return lambda t: schedule.gamma ** (int(t) // schedule.step_size)


def _cosine(schedule, epochs: int, warmup: int) -> Callable[[float], float]:
    def multiplier(t: float) -> float:
        progress = min(max((t - warmup) / max(epochs - warmup, 1e-9), 0.0), 1.0)
        return schedule.min_lr_ratio + (1 - schedule.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return multiplier


def _one_cycle(schedule, epochs: int, warmup: int) -> Callable[[float], float]:
    start, end = 1 / schedule.div_factor, 1 / (schedule.div_factor * schedule.final_div_factor)

    def multiplier(t: float) -> float:
        progress = min(t / epochs, 1.0)
        if progress < schedule.pct_start:
            p = progress / schedule.pct_start
            return end_cos(start, 1.0, p)
        return end_cos(1.0, end, (progress - schedule.pct_start) / (1 - schedule.pct_start))

    return multiplier


def end_cos(a: float, b: float, p: float) -> float:
    """Cosine interpolation from a (p = 0) to b (p = 1)."""
    return b + (a - b) * 0.5 * (1 + math.cos(math.pi * p))


SCHEDULES: dict[str, Callable[[Any, int, int], Callable[[float], float]]] = {
    "none": _constant,
    "reduce_lr_on_plateau": _constant,
    "step_lr": _step,
    "cosine": _cosine,
    "one_cycle": _one_cycle,
}


class LrScheduler:
    def __init__(self, optimizer: torch.optim.Optimizer, config: LoopConfig, *, steps_per_epoch: int) -> None:
        self.optimizer = optimizer
        self.schedule = config.lr_schedule
        self.steps_per_epoch = max(steps_per_epoch, 1)
        self.warmup = config.warmup_epochs
        self.multiplier = SCHEDULES[self.schedule.name](self.schedule, config.epochs, config.warmup_epochs)
        self.step_count = 0
        self.plateau_scale = 1.0
        self.best_loss = math.inf
        self.bad_epochs = 0

    def before_step(self) -> None:
        """Set the learning rate of the step about to run."""
        t = self.step_count / self.steps_per_epoch
        factor = self.multiplier(t) * self.plateau_scale
        if self.warmup and t < self.warmup:
            factor *= (self.step_count + 1) / (self.warmup * self.steps_per_epoch)
        min_lr = getattr(self.schedule, "min_lr", 0.0)
        for group in self.optimizer.param_groups:
            group["lr"] = max(group["base_lr"] * factor, min(min_lr, group["base_lr"]))
        self.step_count += 1

    def end_epoch(self, val_loss: float) -> None:
        if self.schedule.name != "reduce_lr_on_plateau":
            return
        if val_loss < self.best_loss * (1 - 1e-4):
            self.best_loss, self.bad_epochs = val_loss, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs > self.schedule.patience:
            self.plateau_scale *= self.schedule.factor
            self.bad_epochs = 0

    @property
    def head_lr(self) -> float:
        return self.optimizer.param_groups[-1]["lr"]

    def state_dict(self) -> dict[str, Any]:
        return {
            "step_count": self.step_count,
            "plateau_scale": self.plateau_scale,
            "best_loss": self.best_loss,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step_count"])
        self.plateau_scale = float(state["plateau_scale"])
        self.best_loss = float(state["best_loss"])
        self.bad_epochs = int(state["bad_epochs"])
