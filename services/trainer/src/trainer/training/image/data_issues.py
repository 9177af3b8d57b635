"""Images worth a second look, found from the cached features and the pixels the network saw:

- ``mislabelled``: a probe fitted on the other folds (out of fold) is confident the image belongs to
  another class and gives its own label little probability;
- ``blank``: almost no variation at all (a black, white or single-colour frame);
- ``placeholder``: most of the image is one flat colour (an "image not found" graphic, a logo on a
  plain background), which a photo practically never is;
- ``outlier``: far further from its class's centre in feature space than the rest of the class.

Nothing is removed: the run's report lists them (``data_issues.json`` + a thumbnail grid); a person
decides, and excludes what they want with the run config's ``exclude`` list before retraining.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from trainer.training.image.linear_probe import out_of_fold_probabilities

IssueKind = Literal["mislabelled", "blank", "placeholder", "outlier"]

# Thresholds, chosen to flag few clean images: see tests/training/test_data_issues.py.
MISLABEL_MIN_PROBABILITY = 0.6  # the other class, out of fold...
MISLABEL_MAX_OWN_PROBABILITY = 0.2  # ...and its own label at most this
BLANK_MAX_STD = 4.0  # grey-level standard deviation (0-255)
PLACEHOLDER_MIN_FLAT = 0.6  # share of pixels within FLAT_TOLERANCE of the most common colour
FLAT_TOLERANCE = 6
OUTLIER_MIN_ROBUST_Z = 5.0  # distance to the class centre, in robust standard deviations of the class
MIN_CLASS_SIZE = 5  # smaller classes cannot be judged out of fold


@dataclass(frozen=True)
class DataIssue:
    index: int  # into the data set's items (manifest order)
    source: str  # the file's name in the upload
    kind: IssueKind
    label: str
    looks_like: str | None  # the class it resembles (mislabelled), else None
    score: float  # how sure: probability of looks_like, flat share, or robust z
    detail: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def pixel_flatness(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image (uint8 NHWC): grey standard deviation, and the share of pixels close to the most
    common colour (colours binned to 16 levels per channel to find it)."""
    grey_std = pixels.astype(np.float32).mean(-1).reshape(len(pixels), -1).std(1)
    flat = np.empty(len(pixels))
    for i, image in enumerate(pixels):
        flat_pixels = image.reshape(-1, 3).astype(np.int16)
        binned = (flat_pixels // 16) @ np.array([256, 16, 1])
        mode_bin = np.bincount(binned).argmax()
        mode = np.median(flat_pixels[binned == mode_bin], axis=0)
        flat[i] = (np.abs(flat_pixels - mode).max(1) <= FLAT_TOLERANCE).mean()
    return grey_std, flat


def find_data_issues(
    *,
    features: np.ndarray,
    labels: np.ndarray,
    pixels: np.ndarray,
    classes: list[str],
    sources: list[str],
    seed: int = 0,
) -> list[DataIssue]:
    """One issue per flagged image (its strongest), sorted by kind then score. ``features``: float
    [n, d] pooled backbone features; ``pixels``: uint8 NHWC (any small size) of the same images."""
    grey_std, flat = pixel_flatness(pixels)
    issues: dict[int, DataIssue] = {}

    def flag(i: int, kind: IssueKind, score: float, detail: str, looks_like: str | None = None) -> None:
        if i not in issues:
            issues[i] = DataIssue(
                int(i), sources[i], kind, classes[labels[i]], looks_like, float(score), detail
            )

    for i in np.flatnonzero(grey_std <= BLANK_MAX_STD):
        flag(i, "blank", grey_std[i], f"almost uniform (grey-level spread {grey_std[i]:.1f} of 255)")
    for i in np.flatnonzero(flat >= PLACEHOLDER_MIN_FLAT):
        flag(i, "placeholder", flat[i], f"{flat[i]:.0%} of it is one flat colour, unlike a photo")

    counts = np.bincount(labels, minlength=len(classes))
    judged = np.flatnonzero(
        (counts[labels] >= MIN_CLASS_SIZE) & ~np.isin(np.arange(len(labels)), list(issues))
    )
    if len(np.unique(labels[judged])) >= 2:
        _flag_mislabelled(features, labels, judged, classes, seed, flag)
        _flag_outliers(features, labels, judged, flag)
    order = {"mislabelled": 0, "placeholder": 1, "blank": 2, "outlier": 3}
    return sorted(issues.values(), key=lambda issue: (order[issue.kind], -issue.score))


def _flag_mislabelled(features, labels, judged, classes, seed, flag) -> None:
    # Refit over the judged images only, re-indexing classes so none is empty.
    present = np.unique(labels[judged])
    local = np.searchsorted(present, labels[judged])
    probabilities = out_of_fold_probabilities(features[judged], local, num_classes=len(present), seed=seed)
    own = probabilities[np.arange(len(judged)), local]
    best = probabilities.argmax(1)
    for row in np.flatnonzero(
        (best != local)
        & (probabilities.max(1) >= MISLABEL_MIN_PROBABILITY)
        & (own <= MISLABEL_MAX_OWN_PROBABILITY)
    ):
        other = classes[present[best[row]]]
        flag(
            judged[row],
            "mislabelled",
            probabilities[row, best[row]],
            f"looks like {other!r} (p={probabilities[row, best[row]]:.2f}); "
            f"its label {classes[labels[judged[row]]]!r} gets p={own[row]:.2f}",
            looks_like=other,
        )


def _flag_outliers(features, labels, judged, flag) -> None:
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    for cls in np.unique(labels[judged]):
        members = judged[labels[judged] == cls]
        centre = np.median(unit[members], axis=0)
        distance = np.linalg.norm(unit[members] - centre, axis=1)
        median = np.median(distance)
        spread = 1.4826 * np.median(np.abs(distance - median)) + 1e-9
        z = (distance - median) / spread
        for k in np.flatnonzero(z >= OUTLIER_MIN_ROBUST_Z):
            flag(
                members[k], "outlier", z[k], f"{z[k]:.1f} robust standard deviations from its class's centre"
            )
