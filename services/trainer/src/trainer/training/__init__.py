"""Classifier training (image and text tasks on one core): plain functions, no web framework, no database.

    config = parse_run_config(raw)                   # pydantic.ValidationError names the bad field
    check_available(config, store=store)             # WeightsMissing says where to put the file
    result = run_training(spec, store=store, report=print)

``python -m trainer.training --spec spec.json`` runs the same thing in its own process.
Importing this package is cheap: torch loads with ``run_training``'s module, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common.training_config import ImageTrainConfig, TextTrainConfig, parse_run_config

from trainer.training.errors import DatasetUnusable, ExportMismatch, TrainingError, WeightsMissing
from trainer.training.result import TrainingResult
from trainer.training.tasks import check_available

if TYPE_CHECKING:
    from trainer.training.run import run_training

__all__ = [
    "DatasetUnusable",
    "ExportMismatch",
    "ImageTrainConfig",
    "TextTrainConfig",
    "TrainingError",
    "TrainingResult",
    "WeightsMissing",
    "check_available",
    "parse_run_config",
    "run_training",
]


def __getattr__(name: str) -> Any:
    if name == "run_training":
        from trainer.training.run import run_training

        return run_training
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
