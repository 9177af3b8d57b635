"""Preprocessing against hand computations: sizes, crop boxes, pixel values, modes, orientation, bad input."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from common.contracts import resized_size
from common.imaging import Preprocessing, centre_crop_box
from inference.predict.errors import ImageTooLarge, InvalidImage
from inference.predict.preprocessing import decode_image, preprocess_batch, preprocess_image
from PIL import Image

MAX_PIXELS = 10_000_000
SPEC = Preprocessing(input_size=56, resize=64, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("size", "shorter_side", "expected"),
    [
        pytest.param((200, 100), 64, (128, 64), id="landscape"),
        pytest.param((100, 300), 64, (64, 192), id="portrait"),
        pytest.param((50, 50), 64, (64, 64), id="square"),
        pytest.param((3, 5), 64, (64, 106), id="tiny-upscaled"),  # 5 * 64 // 3 = 106
        pytest.param((4, 6), 3, (3, 4), id="half-floors"),  # 6 * 3 // 4 = 4
        pytest.param((6, 4), 3, (4, 3), id="half-floors-landscape"),
        pytest.param((640, 480), 256, (341, 256), id="photo"),  # 640 * 256 / 480 = 341.33
    ],
)
def test_resized_size_brings_the_shorter_side_to_the_target(size, shorter_side, expected):
    assert resized_size(*size, shorter_side=shorter_side) == expected


@pytest.mark.parametrize(
    ("size", "crop", "expected"),
    [
        ((128, 64), 56, (36, 4, 92, 60)),
        ((64, 107), 56, (4, 25, 60, 81)),
        ((64, 64), 56, (4, 4, 60, 60)),
        ((65, 64), 56, (4, 4, 60, 60)),  # odd margin: the extra column is left on the right
    ],
)
def test_centre_crop_box_is_centred_with_floor_division(size, crop, expected):
    assert centre_crop_box(*size, size=crop) == expected


# Each row: the image size, and the resize and crop box worked out by hand for SPEC (resize 64, crop 56).
HAND_WORKED = [
    pytest.param((200, 100), (128, 64), (36, 4, 92, 60), id="landscape"),
    pytest.param((90, 150), (64, 106), (4, 25, 60, 81), id="portrait"),
    pytest.param((77, 77), (64, 64), (4, 4, 60, 60), id="square"),
    pytest.param((3, 5), (64, 106), (4, 25, 60, 81), id="tiny"),
]


@pytest.mark.parametrize(("size", "resized", "box"), HAND_WORKED)
def test_preprocess_image_equals_the_hand_worked_pipeline(size, resized, box):
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), mode="RGB")

    expected_hwc = np.asarray(image.resize(resized, Image.BILINEAR).crop(box), dtype=np.float32) / 255.0
    expected = ((expected_hwc - np.float32(SPEC.mean)) / np.float32(SPEC.std)).transpose(2, 0, 1)[None]

    got = preprocess_image(encode(image), spec=SPEC, max_pixels=MAX_PIXELS)

    assert got.shape == (1, 3, 56, 56)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_crop_offsets_and_normalization_match_pixel_arithmetic():
    # Resize is the identity here (the shorter side is already 30), so every output value can be
    # written down: R encodes x, G encodes y, B is constant. The crop starts at (10, 5).
    width, height = 40, 30
    x = np.arange(width)[None, :].repeat(height, axis=0)
    y = np.arange(height)[:, None].repeat(width, axis=1)
    pixels = np.stack([5 * x, 7 * y, np.full_like(x, 100)], axis=-1).astype(np.uint8)
    spec = Preprocessing(input_size=20, resize=30, mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3))

    got = preprocess_image(encode(Image.fromarray(pixels, mode="RGB")), spec=spec, max_pixels=MAX_PIXELS)[0]

    rows, cols = np.meshgrid(np.arange(20), np.arange(20), indexing="ij")
    np.testing.assert_allclose(got[0], (5 * (cols + 10) / 255 - 0.4) / 0.2, atol=1e-5)
    np.testing.assert_allclose(got[1], (7 * (rows + 5) / 255 - 0.5) / 0.25, atol=1e-5)
    np.testing.assert_allclose(got[2], np.full((20, 20), (100 / 255 - 0.6) / 0.3), atol=1e-5)


def _uniform(mode: str, value, size=(24, 18)) -> Image.Image:
    return Image.new(mode, size, value)


# Modes, transparency, orientation and frames are common.decoding's table test (libs/common/tests);
# tests/test_decoding_agreement.py shows the dataset service and this service decode alike.


def _truncated_png() -> bytes:
    data = encode(Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"definitely not an image", "supported format", id="text"),
        pytest.param(encode(_uniform("RGB", (1, 2, 3)), "PPM"), "supported format", id="unaccepted-format"),
        pytest.param(_truncated_png(), "corrupt or truncated", id="truncated"),
    ],
)
def test_decode_image_refuses_what_it_cannot_decode(data, message):
    with pytest.raises(InvalidImage, match=message):
        decode_image(data, max_pixels=MAX_PIXELS)


def test_decode_image_refuses_too_many_pixels_before_decoding():
    with pytest.raises(ImageTooLarge, match="40x30 = 1200 pixels; the limit is 1000"):
        decode_image(encode(_uniform("RGB", (0, 0, 0), size=(40, 30))), max_pixels=1000)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares its size but holds no pixels: a decompression bomb as its header presents it."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "size",
    [
        pytest.param((9_000, 9_000), id="over-our-cap"),
        pytest.param((20_000, 20_000), id="over-pils-own-cap"),
    ],
)
def test_decompression_bomb_is_refused_from_its_header(size):
    with pytest.raises(ImageTooLarge, match="too many pixels|limit is 64000000"):
        decode_image(png_header_only(*size), max_pixels=64_000_000)


def test_preprocess_batch_stacks_in_order():
    red, blue = encode(_uniform("RGB", (255, 0, 0))), encode(_uniform("RGB", (0, 0, 255)))
    batch = preprocess_batch([("a.png", red), ("b.png", blue)], spec=SPEC, max_pixels=MAX_PIXELS)
    assert batch.shape == (2, 3, 56, 56)
    assert batch[0, 0].mean() > batch[1, 0].mean()
    assert batch[1, 2].mean() > batch[0, 2].mean()


def test_preprocess_batch_names_the_bad_file_by_index_and_name():
    good = encode(_uniform("RGB", (255, 0, 0)))
    with pytest.raises(InvalidImage, match=r"file 1 \('notes.txt'\)") as caught:
        preprocess_batch([("a.png", good), ("notes.txt", b"hello")], spec=SPEC, max_pixels=MAX_PIXELS)
    assert caught.value.detail == {"index": 1, "filename": "notes.txt"}
