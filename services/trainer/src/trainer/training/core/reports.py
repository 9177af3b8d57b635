"""Reports a person reads after a run, whatever the task: curves, confusion matrix, per-class scores."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from common.store import ObjectStore

from trainer.training.core.confusion import confusion_png
from trainer.training.core.curves import curves_png


def put_json(store: ObjectStore, key: str, value: Any) -> str:
    store.put_bytes(key, json.dumps(value, indent=2).encode(), content_type="application/json")
    return key


def put_png(store: ObjectStore, key: str, png: bytes) -> str:
    store.put_bytes(key, png, content_type="image/png")
    return key


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """[true, predicted] counts."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def per_class_scores(matrix: np.ndarray, classes: list[str]) -> dict[str, dict[str, float | int]]:
    true_pos = np.diag(matrix).astype(np.float64)
    predicted, actual = matrix.sum(0), matrix.sum(1)
    precision = np.divide(true_pos, predicted, out=np.zeros_like(true_pos), where=predicted > 0)
    recall = np.divide(true_pos, actual, out=np.zeros_like(true_pos), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(true_pos), where=denom > 0)
    return {
        name: {"precision": precision[i], "recall": recall[i], "f1": f1[i], "support": int(actual[i])}
        for i, name in enumerate(classes)
    }


def write_reports(
    *,
    store: ObjectStore,
    prefix: str,
    classes: list[str],
    history: list[dict[str, Any]],
    labels: np.ndarray,
    logits: np.ndarray,
) -> dict[str, str]:
    """curves.png, confusion_matrix.{png,json}, per_class.json; name -> key."""
    matrix = confusion_matrix(labels, logits.argmax(1), len(classes))
    return {
        "curves.png": put_png(store, prefix + "curves.png", curves_png(history)),
        "confusion_matrix.png": put_png(
            store, prefix + "confusion_matrix.png", confusion_png(matrix, classes)
        ),
        "confusion_matrix.json": put_json(
            store,
            prefix + "confusion_matrix.json",
            {"classes": classes, "matrix": matrix.tolist(), "rows": "true"},
        ),
        "per_class.json": put_json(store, prefix + "per_class.json", per_class_scores(matrix, classes)),
    }


def softmax(logits: np.ndarray) -> np.ndarray:
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    return probabilities / probabilities.sum(1, keepdims=True)
