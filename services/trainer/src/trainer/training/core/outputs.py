"""What every run leaves in the store, whatever trained it: reports, ``metrics.json``, the task's files,
``model.pt``, ``model.onnx`` and, last, the model card. No torch here: ``core.run.train_task`` and the
image quick path on CPU (``image/quick_cpu.py``) both end with ``write_outputs``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from common.contracts import ImageCardPreprocessing, ModelCard, TextCardPreprocessing, TrainingSpec
from common.store import ObjectStore
from common.training_config import ImageTrainConfig, TextTrainConfig

from trainer.training.core.card import card_fields
from trainer.training.core.reports import put_json, write_reports
from trainer.training.core.task import LabelledSet, TaskOutputs
from trainer.training.result import TrainingResult


@dataclass(frozen=True)
class OnnxCheck:
    top1_agreement: float
    max_abs_logit_diff: float


@dataclass
class FinishedRun:
    """A trained model and how it did, ready to be written out."""

    config: ImageTrainConfig | TextTrainConfig
    data: LabelledSet
    labels: np.ndarray  # validation labels, in data.val order
    logits: np.ndarray  # float32 [validation, classes] of the exported model's computation
    val_loss: float
    val_accuracy: float
    history: list[dict[str, Any]]
    probe_history: list[dict[str, Any]]
    epochs_completed: int
    stopped_early: bool
    best_epoch: int | None
    onnx_model: bytes
    onnx_check: OnnxCheck
    onnx_input: str
    outputs: TaskOutputs
    model_pt: bytes
    card_preprocessing: ImageCardPreprocessing | TextCardPreprocessing
    class_weights: list[float] | None
    device: str
    autocast: str | None
    timings: dict[str, float]
    checkpoint_key: str | None  # an epoch checkpoint the run left, if any


def write_outputs(
    spec: TrainingSpec, run: FinishedRun, *, store: ObjectStore, keys: dict[str, str]
) -> TrainingResult:
    """Write the run's artifacts after ``keys`` (what the caller already wrote: example grids); the card
    goes last, so its presence means the run's artifacts are complete."""
    config, data, prefix = run.config, run.data, spec.output_prefix
    keys = dict(keys)
    keys |= write_reports(
        store=store,
        prefix=prefix,
        classes=data.classes,
        history=[*run.probe_history, *run.history],
        labels=run.labels,
        logits=run.logits,
    )
    summary = {
        "val_accuracy": run.val_accuracy,
        "val_loss": run.val_loss,
        "epochs_completed": run.epochs_completed,
        "stopped_early": run.stopped_early,
        "best_epoch": run.best_epoch,
        "onnx_top1_agreement": run.onnx_check.top1_agreement,
        "onnx_max_abs_logit_diff": run.onnx_check.max_abs_logit_diff,
    }
    metrics = {
        **summary,
        "history": run.history,
        "probe_history": run.probe_history,
        **run.outputs.metrics,
        "class_counts": _class_counts(data),
        "class_weights": run.class_weights,
        "device": run.device,
        "autocast": run.autocast,
        "timings_s": {k: round(v, 3) for k, v in run.timings.items()},
    }
    keys["metrics.json"] = put_json(store, prefix + "metrics.json", metrics)
    for name, content in run.outputs.files.items():
        keys[name] = prefix + name
        store.put_bytes(keys[name], content)
    keys["model.pt"] = prefix + "model.pt"
    store.put_bytes(keys["model.pt"], run.model_pt)
    keys["model.onnx"] = prefix + "model.onnx"
    store.put_bytes(keys["model.onnx"], run.onnx_model)
    if run.checkpoint_key is not None:
        keys["checkpoint.pt"] = run.checkpoint_key
    card = ModelCard(
        task=config.task,
        classes=data.classes,
        preprocessing=run.card_preprocessing,
        backbone=run.outputs.backbone,
        mode=run.outputs.mode,
        hyperparameters=config.model_dump(mode="json"),
        metrics={**summary, "history": run.history},
        val_accuracy=run.val_accuracy,
        created_at=datetime.now(UTC),
        run_id=spec.run_id,
        dataset_id=spec.dataset_id,
        onnx_input=run.onnx_input,
        onnx_output="logits",
        **card_fields(
            task=config.task,
            data=data,
            labels=run.labels,
            logits=run.logits,
            accuracy=run.val_accuracy,
            issues=sum((run.outputs.metrics.get("data_issues") or {}).values()) or None,
        ),
    )
    keys["model_card.json"] = prefix + "model_card.json"
    store.put_bytes(
        keys["model_card.json"], card.model_dump_json(indent=2).encode(), content_type="application/json"
    )
    return TrainingResult(
        val_accuracy=run.val_accuracy,
        epochs_completed=run.epochs_completed,
        onnx_key=keys["model.onnx"],
        card_key=keys["model_card.json"],
        artifacts=keys,
        onnx_max_abs_logit_diff=run.onnx_check.max_abs_logit_diff,
        onnx_top1_agreement=run.onnx_check.top1_agreement,
    )


def _class_counts(data: LabelledSet) -> dict[str, dict[str, int]]:
    return {
        split: dict(zip(data.classes, data.class_counts(indices), strict=True))
        for split, indices in (("train", data.train), ("val", data.val))
    }
