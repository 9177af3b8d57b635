"""What an image run adds to the run's outputs (both the torch path and the quick path on CPU)."""

from __future__ import annotations

from common.imaging import Preprocessing
from common.training_config import ImageTrainConfig

from trainer.training.core.task import TaskOutputs
from trainer.training.image.data import ImageSet
from trainer.training.image.data_issues import DataIssue
from trainer.training.image.feature_norm import FeatureNorm
from trainer.training.image.issue_report import issue_files


def image_outputs(
    config: ImageTrainConfig,
    *,
    prep: Preprocessing,
    feature_key: str,
    issues: list[DataIssue] | None,
    data: ImageSet,
    engine: str = "torch",
    feature_norm: FeatureNorm | None = None,
) -> TaskOutputs:
    """``feature_norm``: what the kept network applies before its head (a fine-tuning run may keep the
    quick model it started from, whose differs from its config's); default the config's."""
    feature_norm = feature_norm or config.feature_norm
    return TaskOutputs(
        backbone=config.backbone,
        mode=config.mode,
        model_pt={
            "backbone": config.backbone,
            "mode": config.mode,
            "preprocessing": prep.as_dict(),
            "feature_norm": feature_norm,  # ImageClassifier(..., feature_norm=...)
            "format": "trainer.training.image.models.ImageClassifier",
        },
        metrics={
            "feature_cache_key": feature_key,
            "data_issues": None if issues is None else _count_kinds(issues),
            "excluded": len(config.exclude),
            "engine": engine,  # "onnxruntime": the quick path on CPU, which never imported torch
            "feature_norm": feature_norm,
        },
        files=issue_files(issues, data, prep) if issues is not None else {},
    )


def _count_kinds(issues: list[DataIssue]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for issue in issues:
        counts[issue.kind] = counts.get(issue.kind, 0) + 1
    return counts
