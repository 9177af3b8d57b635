"""Training and serving see the same pixels: the dataset service's stored copy (what the trainer
learns from) and the inference service's decode of the same upload agree, transparency and TIFF
included. Both call common.decoding; this test fails if either grows its own conversion again."""

from __future__ import annotations

import io

import numpy as np
import pytest
from common.decoding import decode_rgb
from dataset.validation.images import decode_image as dataset_decode
from inference.predict.preprocessing import decode_image as inference_decode
from PIL import Image

LIMIT = 10_000_000


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def half_transparent() -> Image.Image:
    pixels = np.zeros((48, 64, 4), np.uint8)
    pixels[..., 0] = 200
    pixels[:, 32:, 3] = 255  # left half fully transparent, right half opaque red
    return Image.fromarray(pixels, mode="RGBA")


def transparent_palette() -> Image.Image:
    image = Image.new("P", (64, 48), 0)
    image.putpalette([0, 0, 0, 30, 30, 200] + [0] * 762)
    image.paste(1, (32, 0, 64, 48))
    image.info["transparency"] = 0
    return image


# (id, image, format, colour of the left half: transparent pixels are white, never black)
CASES = [
    ("rgba-png", half_transparent(), "PNG", (255, 255, 255)),
    ("palette-transparency-gif", transparent_palette(), "GIF", (255, 255, 255)),
    ("grey-alpha-png", half_transparent().convert("LA"), "PNG", (255, 255, 255)),
    ("rgb-tiff", Image.new("RGB", (64, 48), (30, 200, 30)), "TIFF", (30, 200, 30)),
]


@pytest.mark.parametrize(("image", "fmt", "left"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_dataset_copy_and_served_image_agree(image, fmt, left):
    data = encode(image, fmt)

    stored = dataset_decode(data, max_pixels=LIMIT, min_side=8, small_side=8, max_side=512, jpeg_quality=100)
    trained_on = np.asarray(decode_rgb(stored.jpeg, max_pixels=LIMIT), dtype=np.int16)
    served = np.asarray(inference_decode(data, max_pixels=LIMIT), dtype=np.int16)

    assert trained_on.shape == served.shape
    # Away from the middle edge (JPEG chroma blurs it), the stored JPEG (q100) matches what is served.
    interior = np.r_[0:24, 40:64]
    assert np.abs(trained_on[:, interior] - served[:, interior]).max() <= 4
    assert np.abs(served[:, :24] - np.array(left)).max() <= 1
