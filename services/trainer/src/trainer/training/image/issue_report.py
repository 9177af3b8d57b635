"""The run's data-issue report: ``find_data_issues`` over the images the run used, written as
``data_issues.json`` (what a program or the web app reads) and ``data_issues.png`` (thumbnails with
the label and what each image looks like)."""

from __future__ import annotations

import json

import numpy as np
from common.imaging import Preprocessing, eval_pixels

from trainer.training.image.data import ImageSet
from trainer.training.image.data_issues import DataIssue, find_data_issues
from trainer.training.image.grids import GRID, grid_image

THUMBNAIL = 64  # pixels the blank/placeholder checks look at
GRID_THUMBNAIL = 128


def _pixels(data: ImageSet, indices: np.ndarray, side: int) -> np.ndarray:
    return np.stack([eval_pixels(data.images[i], resize=side, size=side) for i in indices])


def find_issues(data: ImageSet, features: np.ndarray, *, seed: int) -> list[DataIssue]:
    """Issues among the images in either split (excluded ones are not judged again)."""
    used = np.sort(np.concatenate([data.train, data.val]))
    found = find_data_issues(
        features=features[used],
        labels=data.labels[used],
        pixels=_pixels(data, used, THUMBNAIL),
        classes=data.classes,
        sources=[data.sources[i] for i in used],
        seed=seed,
    )
    # Back to manifest indices.
    return [
        DataIssue(int(used[d.index]), d.source, d.kind, d.label, d.looks_like, d.score, d.detail)
        for d in found
    ]


def issue_files(issues: list[DataIssue], data: ImageSet, prep: Preprocessing) -> dict[str, bytes]:
    report = {
        "how_to_use": "Look at each image; to leave some out, retrain with "
        '{"exclude": [<source>, ...]} in the run config. Nothing was removed.',
        "counts": {
            kind: sum(i.kind == kind for i in issues)
            for kind in ("mislabelled", "placeholder", "blank", "outlier")
        },
        "issues": [issue.as_dict() for issue in issues],
    }
    shown = issues[: GRID * GRID]
    captions = [
        (
            f"{issue.kind}: {issue.label}",
            f"looks like {issue.looks_like}" if issue.looks_like else issue.source.rsplit("/", 1)[-1],
        )
        for issue in shown
    ]
    pixels = (
        _pixels(data, np.asarray([i.index for i in shown], dtype=np.int64), GRID_THUMBNAIL)
        if shown
        else np.zeros((0, 1, 1, 3), np.uint8)
    )
    png = grid_image(pixels, captions, ok=False, cell=GRID_THUMBNAIL + 22, empty="no data issues found")
    return {"data_issues.json": json.dumps(report, indent=2).encode(), "data_issues.png": png}
