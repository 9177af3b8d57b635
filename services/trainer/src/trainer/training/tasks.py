"""The tasks the training core runs, by ``config.task``: the only place that names them all."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from common.contracts import TrainingSpec
from common.store import ObjectStore
from common.training_config import ImageTrainConfig, TextTrainConfig

from trainer.training.image.weights import check_backbone_available

if TYPE_CHECKING:
    from trainer.training.core.task import Task


def build_task(
    spec: TrainingSpec,
    config: ImageTrainConfig | TextTrainConfig,
    *,
    store: ObjectStore,
    weights_dir: Path | None,
) -> Task:
    if isinstance(config, ImageTrainConfig):
        from trainer.training.image.task import ImageTask

        return ImageTask(spec=spec, config=config, store=store, weights_dir=weights_dir)
    from trainer.training.text.task import TextTask

    return TextTask(spec=spec, config=config, store=store)


def check_available(
    config: ImageTrainConfig | TextTrainConfig, *, store: ObjectStore, weights_dir: Path | None = None
) -> None:
    """Raise ``WeightsMissing`` unless the run's pretrained weights can be found (cheap: no torch)."""
    if isinstance(config, ImageTrainConfig):
        check_backbone_available(config, store=store, weights_dir=weights_dir)
    elif config.model == "minilm":
        from trainer.training.text.weights import minilm_dir

        minilm_dir()
