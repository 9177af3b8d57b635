"""Decoding one image: formats, modes, orientation, bombs, damage, and the stored copy."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from dataset.testing import corpus
from dataset.validation.images import ImageProblem, decode_image, dhash
from dataset.validation.report import Code
from PIL import Image

DEFAULTS = {"max_pixels": 50_000_000, "min_side": 8, "small_side": 32, "max_side": 512, "jpeg_quality": 95}


def decode(data: bytes, **overrides):
    return decode_image(data, **(DEFAULTS | overrides))


def stored_pixel(data: bytes) -> tuple[int, int, int]:
    decoded = decode(data)
    image = Image.open(io.BytesIO(decoded.jpeg))
    assert image.mode == "RGB"
    return image.getpixel((image.width // 2, image.height // 2))


def solid(mode: str, value, size=(40, 40)) -> Image.Image:
    return Image.new(mode, size, value)


def palette_with_transparency() -> Image.Image:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    image.info["transparency"] = 0
    return image


def sixteen_bit_grey() -> Image.Image:
    return Image.fromarray(np.full((40, 40), 40_000, dtype=np.uint16))


# (case, image, format, expected RGB at the centre, within JPEG tolerance)
MODES = [
    ("rgb-jpeg", solid("RGB", (200, 30, 30)), "JPEG", (200, 30, 30)),
    ("cmyk-jpeg", solid("CMYK", (0, 255, 255, 0)), "JPEG", (255, 0, 0)),
    ("grey-png", solid("L", 128), "PNG", (128, 128, 128)),
    ("bilevel-png", solid("1", 1), "PNG", (255, 255, 255)),
    (
        "palette-gif",
        solid("RGB", (30, 30, 200)).convert("P", palette=Image.Palette.ADAPTIVE),
        "GIF",
        (30, 30, 200),
    ),
    ("palette-transparent-png", palette_with_transparency(), "PNG", (255, 255, 255)),
    ("grey-alpha-png", solid("LA", (0, 0)), "PNG", (255, 255, 255)),
    ("rgba-png-opaque", solid("RGBA", (30, 200, 30, 255)), "PNG", (30, 200, 30)),
    ("16-bit-grey-png", sixteen_bit_grey(), "PNG", (155, 155, 155)),
    ("webp", solid("RGB", (30, 200, 30)), "WEBP", (30, 200, 30)),
    ("bmp", solid("RGB", (30, 200, 30)), "BMP", (30, 200, 30)),
    ("tiff", solid("RGB", (30, 200, 30)), "TIFF", (30, 200, 30)),
]


@pytest.mark.parametrize(("image", "fmt", "rgb"), [c[1:] for c in MODES], ids=[c[0] for c in MODES])
def test_every_mode_becomes_rgb_with_its_colour(image, fmt, rgb):
    pixel = stored_pixel(corpus.encode(image, fmt))

    assert np.abs(np.array(pixel) - np.array(rgb)).max() <= 6, pixel


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (80, 40), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise for display
    data = corpus.encode(image, "JPEG", exif=exif.tobytes())

    decoded = decode(data)

    assert (decoded.width, decoded.height) == (40, 80)


def test_animated_gif_uses_its_first_frame():
    frames = [solid("RGB", (200, 30, 30)).convert("P"), solid("RGB", (30, 30, 200)).convert("P")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])

    assert stored_pixel(buffer.getvalue())[0] > 150


@pytest.mark.parametrize(
    ("size", "upscaled"), [((30, 30), True), ((20, 200), True), ((32, 80), False)], ids=str
)
def test_small_image_is_kept_and_marked_for_upscaling(size, upscaled):
    decoded = decode(corpus.encode(corpus.photo(1, size=size)))

    assert (decoded.width, decoded.height) == size
    assert decoded.upscaled is upscaled


def test_stored_copy_is_downscaled_to_the_shorter_side():
    decoded = decode(corpus.encode(corpus.photo(1, size=(1600, 1200))))

    assert (decoded.width, decoded.height) == (683, 512)
    assert (decoded.original_width, decoded.original_height) == (1600, 1200)


def test_pixel_bomb_is_refused_before_decoding():
    bomb = corpus.pixel_bomb_png()  # building it takes seconds on a busy machine: not part of the timing
    started = time.perf_counter()
    with pytest.raises(ImageProblem) as problem:
        decode(bomb)

    assert problem.value.code == Code.too_many_pixels
    assert time.perf_counter() - started < 1.0


def test_pillow_bomb_warning_is_an_error_below_our_own_check(monkeypatch):
    from dataset.validation.images import configure_pillow

    configure_pillow(max_pixels=1000)
    try:
        with pytest.raises(ImageProblem) as problem:
            decode(corpus.encode(corpus.photo(2, size=(40, 40)), "PNG"), max_pixels=10_000_000)
    finally:
        configure_pillow(max_pixels=DEFAULTS["max_pixels"])

    assert problem.value.code == Code.too_many_pixels


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (corpus.truncated(corpus.encode(corpus.photo(3, size=(300, 300)), "JPEG")), Code.corrupt),
        (corpus.truncated(corpus.encode(corpus.photo(3, size=(300, 300)), "PNG")), Code.corrupt),
        (corpus.encode(corpus.photo(3, size=(300, 300)), "PNG")[:20], Code.corrupt),
        (corpus.windows_executable(), Code.unsupported),
        (b"", Code.unsupported),
        (corpus.encode(corpus.photo(3, size=(6, 200))), Code.too_small),
    ],
    ids=["truncated-jpeg", "truncated-png", "header-only-png", "executable", "empty", "too-narrow"],
)
def test_unusable_image_raises_its_reason(data, code):
    with pytest.raises(ImageProblem) as problem:
        decode(data)

    assert problem.value.code == code


@pytest.mark.parametrize(
    ("data", "words"),
    [(corpus.windows_executable(), "Windows executable"), (b"\x00\x00\x00\x18ftypheic" + bytes(64), "HEIC")],
    ids=["executable", "heic"],
)
def test_unsupported_file_is_named_in_the_message(data, words):
    with pytest.raises(ImageProblem, match=words):
        decode(data)


def test_dhash_is_close_for_a_recompressed_copy_and_far_for_another_image():
    original = corpus.photo(4, size=(128, 128))
    recompressed = Image.open(io.BytesIO(corpus.encode(original, quality=40)))
    other = corpus.photo(5, size=(128, 128))

    assert bin(dhash(original) ^ dhash(recompressed)).count("1") <= 4
    assert bin(dhash(original) ^ dhash(other)).count("1") > 10
