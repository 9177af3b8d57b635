"""Individual validation texts a person reads after a run: the misclassified ones and the most confident
correct ones, each with its true class, the predicted class and the confidence, as JSON and CSV."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
from common.csvsafe import neutralize
from common.store import ObjectStore

from trainer.training.core.reports import softmax

LIMIT = 50


def example_rows(
    texts: list[str], classes: list[str], labels: np.ndarray, logits: np.ndarray
) -> dict[str, list[dict]]:
    probabilities = softmax(logits)
    predicted, confidence = probabilities.argmax(1), probabilities.max(1)
    wrong = np.flatnonzero(predicted != labels)
    right = np.flatnonzero(predicted == labels)
    groups = {
        "misclassified": wrong[np.argsort(-confidence[wrong], kind="stable")][:LIMIT],
        "confident_correct": right[np.argsort(-confidence[right], kind="stable")][:LIMIT],
    }
    return {
        name: [
            {
                "text": texts[i],
                "true": classes[labels[i]],
                "predicted": classes[predicted[i]],
                "confidence": round(float(confidence[i]), 4),
            }
            for i in rows
        ]
        for name, rows in groups.items()
    }


def write_examples(
    *,
    store: ObjectStore,
    prefix: str,
    texts: list[str],
    classes: list[str],
    labels: np.ndarray,
    logits: np.ndarray,
) -> dict[str, str]:
    """{misclassified,confident_correct}.{json,csv}; name -> key. ``texts`` in validation order."""
    keys = {}
    for name, rows in example_rows(texts, classes, labels, logits).items():
        keys[f"{name}.json"] = prefix + f"{name}.json"
        store.put_bytes(
            keys[f"{name}.json"],
            json.dumps(rows, indent=2, ensure_ascii=False).encode(),
            content_type="application/json",
        )
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["text", "true", "predicted", "confidence"])
        writer.writeheader()
        writer.writerows(
            {**row, **{k: neutralize(row[k]) for k in ("text", "true", "predicted")}} for row in rows
        )
        keys[f"{name}.csv"] = prefix + f"{name}.csv"
        store.put_bytes(keys[f"{name}.csv"], buffer.getvalue().encode(), content_type="text/csv")
    return keys
