"""Reports a person reads after a run, whatever the task: curves, confusion matrix, per-class scores."""

from __future__ import annotations

import io
import json
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from common.store import ObjectStore  # noqa: E402


def put_json(store: ObjectStore, key: str, value: Any) -> str:
    store.put_bytes(key, json.dumps(value, indent=2).encode(), content_type="application/json")
    return key


def put_figure(store: ObjectStore, key: str, figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    store.put_bytes(key, buffer.getvalue(), content_type="image/png")
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


def curves_figure(history: list[dict[str, Any]]) -> plt.Figure:
    """Accuracy and loss of every phase of a run (e.g. a fine-tuning run's probe, then its epochs), one
    point per row; a dashed line and the phase's name where a phase starts. A head fitted by L-BFGS
    has one row per iteration, up to convergence."""
    steps = list(range(1, len(history) + 1))
    figure, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    starts = [k for k, row in enumerate(history) if k == 0 or row.get("stage") != history[k - 1].get("stage")]
    for ax, metric, title in ((acc_ax, "acc", "accuracy"), (loss_ax, "loss", "loss")):
        for split, label in (("train", "train"), ("val", "validation")):
            points = [(x, row.get(f"{split}_{metric}")) for x, row in zip(steps, history, strict=True)]
            points = [(x, y) for x, y in points if y is not None]
            if points:
                ax.plot(*zip(*points, strict=True), label=label, marker="." if len(points) < 30 else None)
        for k in starts:
            if len(starts) > 1:
                ax.axvline(steps[k] - 0.5, color="grey", linestyle="--", linewidth=0.8)
            ax.annotate(
                str(history[k].get("stage", "")),
                (steps[k], 1.0),
                xycoords=("data", "axes fraction"),
                va="top",
                fontsize=8,
                color="grey",
            )
        ax.set_xlabel("step (L-BFGS iteration for a fitted head, else epoch)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    return figure


def confusion_figure(matrix: np.ndarray, classes: list[str]) -> plt.Figure:
    side = min(max(4.0, 0.6 * len(classes) + 2), 20.0)
    figure, ax = plt.subplots(figsize=(side, side), layout="constrained")
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(classes) <= 25:
        threshold = matrix.max() / 2 if matrix.size else 0
        for (row, col), count in np.ndenumerate(matrix):
            ax.text(
                col,
                row,
                str(count),
                ha="center",
                va="center",
                color="white" if count > threshold else "black",
            )
    return figure


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
        "curves.png": put_figure(store, prefix + "curves.png", curves_figure(history)),
        "confusion_matrix.png": put_figure(
            store, prefix + "confusion_matrix.png", confusion_figure(matrix, classes)
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
