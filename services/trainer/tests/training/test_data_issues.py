"""The data-issue finder on a generated set: a blank frame, a placeholder graphic and swapped labels are
flagged (the swapped ones with the class they look like), and no clean image is.

Features are built in the test (one cluster per class, as a frozen backbone gives for distinct
classes) so the test is fast and deterministic; pixels are real generated images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from trainer.training.image.data_issues import find_data_issues, pixel_flatness
from trainer.training.image.linear_probe import fit_probe, out_of_fold_probabilities

CLASSES = ["daisy", "rose", "tulip", "sunflower"]
PER_CLASS = 30
DIM = 64


def photo(rng: np.random.Generator, side: int = 48) -> np.ndarray:
    """A photo-like image: smooth random colour field plus sensor noise."""
    coarse = Image.fromarray(rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)).resize(
        (side, side), Image.BICUBIC
    )
    noisy = np.asarray(coarse, dtype=np.int16) + rng.integers(-10, 11, (side, side, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def placeholder(side: int = 48) -> np.ndarray:
    image = Image.new("RGB", (side, side), (242, 242, 242))
    draw = ImageDraw.Draw(image)
    draw.rectangle([14, 10, 34, 26], outline=(150, 150, 150), width=2)
    draw.text((4, 32), "no image", fill=(120, 120, 120))
    return np.asarray(image)


@pytest.fixture(scope="module")
def generated():
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(len(CLASSES), DIM)) * 1.2
    labels = np.repeat(np.arange(len(CLASSES)), PER_CLASS)
    features = (centres[labels] + rng.normal(size=(len(labels), DIM))).astype(np.float32)
    features = np.maximum(features, 0)  # pooled ReLU features are non-negative
    pixels = np.stack([photo(rng) for _ in labels])
    sources = [f"{CLASSES[c]}/{i:03d}.jpg" for i, c in enumerate(labels)]
    truth = labels.copy()
    swapped = {5: 1, 40: 2, 75: 3, 100: 0}  # index -> the wrong label it is filed under
    for i, wrong in swapped.items():
        labels[i] = wrong
    blank, graphic = 12, 50
    pixels[blank] = 128
    pixels[graphic] = placeholder()
    return features, labels, truth, pixels, sources, swapped, blank, graphic


def test_each_planted_issue_is_flagged_and_no_clean_image_is(generated):
    features, labels, truth, pixels, sources, swapped, blank, graphic = generated

    issues = find_data_issues(
        features=features, labels=labels, pixels=pixels, classes=CLASSES, sources=sources
    )

    by_index = {issue.index: issue for issue in issues}
    assert set(by_index) == {*swapped, blank, graphic}
    assert by_index[blank].kind == "blank"
    assert by_index[graphic].kind == "placeholder"
    for i in swapped:
        assert by_index[i].kind == "mislabelled"
        assert by_index[i].looks_like == CLASSES[truth[i]]
        assert by_index[i].label == CLASSES[labels[i]]
        assert by_index[i].source == sources[i]


def test_a_clean_set_has_no_issues(generated):
    features, _labels, truth, pixels, sources, *_ = generated
    clean = np.ones(len(truth), bool)
    clean[[12, 50]] = False

    issues = find_data_issues(
        features=features[clean],
        labels=truth[clean],
        pixels=pixels[clean],
        classes=CLASSES,
        sources=[s for s, keep in zip(sources, clean, strict=True) if keep],
    )

    assert issues == []


def test_an_image_far_from_its_class_is_an_outlier(generated):
    features, _labels, truth, pixels, sources, *_ = generated
    features = features.copy()
    features[20] = 0
    features[20, :3] = 15  # a direction no class has: an insect among flowers

    issues = find_data_issues(
        features=features, labels=truth, pixels=pixels, classes=CLASSES, sources=sources
    )

    flagged = {issue.index: issue.kind for issue in issues}
    assert flagged.get(20) in ("outlier", "mislabelled")
    assert set(flagged) - {12, 50} == {20}


def test_flatness_separates_graphics_from_photos():
    rng = np.random.default_rng(0)
    grey_std, flat = pixel_flatness(np.stack([photo(rng), placeholder(), np.full((48, 48, 3), 9, np.uint8)]))

    assert flat[0] < 0.2 and flat[1] > 0.8 and flat[2] == 1.0
    assert grey_std[2] == 0 and grey_std[0] > 10


def test_probe_converges_and_matches_a_direct_softmax_fit():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 40)
    features = rng.normal(size=(120, 16)) + np.eye(3, 16)[labels] * 3

    fit = fit_probe(features, labels, num_classes=3, c=1.0)

    assert fit.converged
    assert fit.iterations == len(fit.trace) and fit.iterations < 200
    assert (fit.logits(features).argmax(1) == labels).mean() > 0.95
    assert fit.trace[-1]["train_loss"] < fit.trace[0]["train_loss"]


def test_out_of_fold_predictions_never_see_their_own_label():
    # Pure noise features: a model that saw an example could memorise it; out of fold it cannot.
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(2), 30)
    features = rng.normal(size=(60, 200))

    in_sample = fit_probe(features, labels, num_classes=2, c=100.0).logits(features).argmax(1)
    oof = out_of_fold_probabilities(features, labels, num_classes=2, c=100.0).argmax(1)

    assert (in_sample == labels).mean() == 1.0
    assert (oof == labels).mean() < 0.75
