"""Every hyperparameter of the ImageNet ResNet-50 recipe, typed and validated, with two schedules.

The config classes live in ``common.imagenet_config`` (a run request carries them); the schedule's
functions live here.
"""

from __future__ import annotations

from common.imagenet_config import (
    SCHEDULE_DEFAULTS,
    Arch,
    ImageNetRecipe,
    ImageNetRunConfig,
    ImageNetTrainConfig,
)

__all__ = [
    "SCHEDULE_DEFAULTS",
    "Arch",
    "ImageNetRecipe",
    "ImageNetRunConfig",
    "ImageNetTrainConfig",
    "lr_factor",
    "peak_lr",
    "train_res",
]


def lr_factor(config: ImageNetTrainConfig, epoch: float) -> float:
    """Multiplier of the peak learning rate at a (fractional) epoch; stateless, so a resume needs no
    scheduler state."""
    if config.schedule == "seed":
        first, second = config.epochs / 3, 2 * config.epochs / 3
        return 0.1 ** ((epoch >= first) + (epoch >= second))
    if epoch < config.warmup_epochs:
        return epoch / config.warmup_epochs
    remaining = config.epochs - config.warmup_epochs
    return max(0.0, 1 - (epoch - config.warmup_epochs) / remaining)


def train_res(config: ImageNetTrainConfig, epoch: int) -> int:
    """Training crop size of an epoch: min_res, then a linear ramp to max_res, in steps of 32 px (of 8
    below 64 px) so cuDNN sees few distinct shapes."""
    start, end = (f * config.epochs for f in config.ramp_epochs)
    if epoch >= end:
        return config.max_res
    if epoch <= start:
        return config.min_res
    res = config.min_res + (config.max_res - config.min_res) * (epoch - start) / (end - start)
    step = 32 if config.max_res >= 64 else 8
    return int(min(config.max_res, max(config.min_res, round(res / step) * step)))


def peak_lr(config: ImageNetTrainConfig, world_size: int) -> float:
    return config.lr_per_256 * config.batch_size * world_size / 256
