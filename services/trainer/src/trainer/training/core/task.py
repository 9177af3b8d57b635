"""The seam between the training core and a task (image, text).

The core (``core.run.train_task``) owns the run: seeding, device, class weights, loss, checkpoints,
the final evaluation, the ONNX export and its check, the reports, ``model.pt`` and the model card. A task
supplies what depends on the kind of data, through the ``Task`` protocol below: one instance per run,
built from the run's spec and config by ``trainer.training.tasks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from common.contracts import ImageCardPreprocessing, TextCardPreprocessing
from common.events import Report

if TYPE_CHECKING:
    import torch
    from common.store import ObjectStore
    from torch import nn

    from trainer.training.core.context import TrainingContext
    from trainer.training.core.device import Device
    from trainer.training.core.loop import FitState


OPSET = 17  # of every exported graph (and of the cached backbone graphs' keys)


@dataclass
class LabelledSet:
    """Every example's class index, and which examples train and which validate."""

    dataset_id: str
    classes: list[str]
    labels: np.ndarray  # int64 class index per example, in manifest order
    train: np.ndarray  # int64 indices into labels
    val: np.ndarray
    dataset_name: str | None = None  # the name its owner gave it (the manifest's), for the model card

    def class_counts(self, indices: np.ndarray) -> list[int]:
        return np.bincount(self.labels[indices], minlength=len(self.classes)).tolist()


@dataclass(frozen=True)
class ExportInputs:
    """How the model is called: one example of each input, and their ONNX names (dim 0 is the batch;
    ``dynamic`` names further variable dims, e.g. {"input_ids": {1: "length"}})."""

    examples: tuple[torch.Tensor, ...]
    names: tuple[str, ...]
    dynamic: dict[str, dict[int, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class FinalModel:
    """A task's own final model: validation logits (``data.val`` order) and the ONNX graph, when it can
    produce them cheaper than the core's eager pass and export (the image quick path: cached features
    and a cached backbone graph). The core still checks the graph against these logits."""

    logits: np.ndarray
    onnx: bytes


@dataclass
class TaskOutputs:
    """What a task adds to the run's outputs: files beside the model (name -> bytes), fields of
    ``model.pt`` and ``metrics.json``, and the card's ``backbone``/``mode``."""

    backbone: str
    mode: str
    files: dict[str, bytes] = field(default_factory=dict)
    model_pt: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


class Task(Protocol):
    def load_data(self, report: Report) -> LabelledSet:
        """Read the data set from the store (``DatasetUnusable`` when it cannot be trained on),
        reporting a ``loading`` counter."""
        ...

    def build_model(self, data: LabelledSet, device: Device) -> nn.Module:
        """The classifier, on ``device``: ``model(*inputs)`` -> logits [batch, classes]."""
        ...

    def train(self, ctx: TrainingContext) -> FitState:
        """Train ``ctx.model`` with ``core.loop.fit``; resume from ``ctx.checkpoints`` when it holds one."""
        ...

    def eval_inputs(self, ctx: TrainingContext) -> dict[str, np.ndarray]:
        """The validation examples as the exported model's inputs (name -> array), in ``data.val`` order."""
        ...

    def export_inputs(self, ctx: TrainingContext) -> ExportInputs: ...

    # Optional: ``final_model(ctx) -> FinalModel | None``; the core uses it when a task defines it and
    # it returns a model (see ``FinalModel``), else it evaluates and exports ``ctx.model`` itself.

    def card_preprocessing(self, ctx: TrainingContext) -> ImageCardPreprocessing | TextCardPreprocessing:
        """What the inference service must do to an input before the model sees it."""
        ...

    def write_examples(
        self, *, store: ObjectStore, prefix: str, ctx: TrainingContext, labels: np.ndarray, logits: np.ndarray
    ) -> dict[str, str]:
        """Reports of individual validation examples (image grids, text tables); name -> key."""
        ...

    def outputs(self, ctx: TrainingContext) -> TaskOutputs: ...
