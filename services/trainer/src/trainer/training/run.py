"""``run_training``: one training run from a ``TrainingSpec`` to its artifacts in the store."""

from __future__ import annotations

from pathlib import Path

from common.contracts import TrainingSpec
from common.events import Report
from common.store import ObjectStore
from common.training_config import ImageTrainConfig, parse_run_config

from trainer.training.result import TrainingResult


def run_training(
    spec: TrainingSpec,
    *,
    store: ObjectStore,
    report: Report,
    weights_dir: Path | None = None,
) -> TrainingResult:
    """Train, evaluate, export and check; every artifact is in the store (the model card last) on return.

    Resumes from ``<output_prefix>checkpoint.pt`` when a previous attempt of the same config left one.
    Raises ``TrainingError`` subclasses for failures a person can fix, ``ValidationError`` for a bad config.
    """
    config = parse_run_config(spec.config)
    if isinstance(config, ImageTrainConfig):
        from trainer.training.image.quick_cpu import plan_quick_cpu, train_quick_cpu

        onnx_key = plan_quick_cpu(config, store=store)
        if onnx_key is not None:  # quick on CPU with a prepared backbone: no torch in this process
            return train_quick_cpu(spec, config, store=store, report=report, onnx_key=onnx_key)
    from trainer.training.core.run import train_task
    from trainer.training.tasks import build_task

    task = build_task(spec, config, store=store, weights_dir=weights_dir)
    return train_task(spec, config, task, store=store, report=report)
