"""The parts of a model card a person reads before using the model: what it was trained on, how well
it does per class, what it is for and where it falls short, and the software that made it."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import numpy as np

from trainer.training.core.reports import confusion_matrix, per_class_scores
from trainer.training.core.task import LabelledSet

PACKAGES = (
    "trainyard-trainer",
    "torch",
    "timm",
    "torchvision",
    "onnx",
    "onnxruntime",
    "numpy",
    "scipy",
    "tokenizers",
)
NOUNS = {"image": "images", "text": "texts"}


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def card_fields(
    *,
    task: str,
    data: LabelledSet,
    labels: np.ndarray,
    logits: np.ndarray,
    accuracy: float,
    issues: int | None,
) -> dict[str, Any]:
    """``dataset_name``, ``class_counts``, ``per_class``, ``intended_use``, ``limitations``, ``software``."""
    noun = NOUNS.get(task, "examples")
    train = dict(zip(data.classes, data.class_counts(data.train), strict=True))
    val = dict(zip(data.classes, data.class_counts(data.val), strict=True))
    matrix = confusion_matrix(labels, logits.argmax(1), len(data.classes)) if len(labels) else None
    per_class = (
        {
            name: {k: round(float(v), 4) for k, v in scores.items()}
            for name, scores in per_class_scores(matrix, data.classes).items()
        }
        if matrix is not None
        else {}
    )
    name = data.dataset_name or data.dataset_id
    intended = (
        f"Sorts {noun} into the {len(data.classes)} classes of the data set {name!r} "
        f"({', '.join(data.classes[:10])}{', ...' if len(data.classes) > 10 else ''}), trained on "
        f"{sum(train.values())} {noun} and validated on {sum(val.values())}: for {noun} like those."
    )
    smallest = min(train, key=train.__getitem__)
    limitations = [
        f"It always answers one of its {len(data.classes)} classes, also for {noun} that belong to none of "
        "them; use the probability, and a threshold, to notice those.",
        f"The validation accuracy ({accuracy:.1%}) comes from {sum(val.values())} {noun} of the same data "
        f"set; expect less on {noun} that look different (another source, camera, style or period).",
        f"Classes with few training {noun} are the least reliable (fewest: {smallest!r}, {train[smallest]}).",
    ]
    weakest = min(per_class.items(), key=lambda kv: kv[1]["f1"], default=None)
    if weakest is not None and weakest[1]["f1"] < 0.9:
        limitations.append(f"Weakest class on validation: {weakest[0]!r} (F1 {weakest[1]['f1']:.2f}).")
    if issues:
        limitations.append(
            f"{issues} {noun} of the data set were flagged as possible data issues (data_issues.json) and "
            "were trained on as they are."
        )
    return {
        "dataset_name": data.dataset_name,
        "class_counts": {"train": train, "val": val},
        "per_class": per_class,
        "intended_use": intended,
        "limitations": limitations,
        "software": software_versions(),
    }
