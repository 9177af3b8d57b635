"""The shared model-card transform (common.imaging) against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from common.imaging import Preprocessing, preprocess, resize_shorter_side
from PIL import Image

PREP = Preprocessing(input_size=4, resize=6, mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 1.0))


def test_eval_transform_matches_a_hand_computation():
    # 10 x 6 image: the shorter side is already `resize`, so only the crop and the arithmetic act.
    pixels = np.arange(6 * 10 * 3, dtype=np.uint8).reshape(6, 10, 3)
    out = preprocess(Image.fromarray(pixels), PREP)
    left, top = (10 - 4) // 2, (6 - 4) // 2
    crop = pixels[top : top + 4, left : left + 4].astype(np.float32) / 255
    expected = np.stack([(crop[..., c] - PREP.mean[c]) / PREP.std[c] for c in range(3)])
    assert out.dtype == np.float32 and out.shape == (3, 4, 4)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("size", "resize", "expected"),
    [
        ((300, 200), 73, (109, 73)),
        ((200, 300), 73, (73, 109)),
        ((64, 64), 73, (73, 73)),
        ((500, 100), 10, (50, 10)),
    ],
)
def test_shorter_side_becomes_resize_and_longer_side_keeps_the_ratio_rounded_down(size, resize, expected):
    assert resize_shorter_side(Image.new("RGB", size), resize).size == expected


def test_resize_is_pil_bilinear():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    prep = Preprocessing(input_size=8, resize=10, mean=(0, 0, 0), std=(1, 1, 1))
    manual = np.asarray(img.resize((15, 10), Image.BILINEAR), dtype=np.float32)[1:9, 3:11] / 255
    np.testing.assert_allclose(preprocess(img, prep), manual.transpose(2, 0, 1), atol=1e-6)


def test_white_and_black_map_to_plus_and_minus_one_with_half_mean_and_std():
    half = Preprocessing(input_size=2, resize=2, mean=(0.5,) * 3, std=(0.5,) * 3)
    img = Image.fromarray(np.array([[[255, 255, 255], [0, 0, 0]]] * 2, dtype=np.uint8))
    np.testing.assert_array_equal(preprocess(img, half)[0], [[1, -1], [1, -1]])
