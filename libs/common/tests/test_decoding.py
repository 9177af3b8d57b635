"""common.decoding, the one decoder of training and serving: every mode, orientation, frame and refusal."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from common.decoding import DecodeError, decode
from PIL import Image

MAX_PIXELS = 10_000_000


def encode(image: Image.Image | list[Image.Image], fmt: str, **params) -> bytes:
    frames = image if isinstance(image, list) else [image]
    buffer = io.BytesIO()
    if len(frames) > 1:
        params |= {"save_all": True, "append_images": frames[1:]}
    frames[0].save(buffer, format=fmt, **params)
    return buffer.getvalue()


def solid(mode: str, value, size=(24, 18)) -> Image.Image:
    return Image.new(mode, size, value)


def palette_with_transparency() -> Image.Image:
    image = Image.new("P", (24, 18), 0)
    image.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    image.info["transparency"] = 0
    return image


def array(values: np.ndarray) -> Image.Image:
    return Image.fromarray(values)


# (id, image, format, expected RGB at the centre, tolerance (JPEG is lossy))
MODES = [
    ("rgb-jpeg", solid("RGB", (200, 30, 30)), "JPEG", (200, 30, 30), 6),
    ("cmyk-jpeg", solid("CMYK", (0, 255, 255, 0)), "JPEG", (255, 0, 0), 6),
    ("cmyk-tiff", solid("CMYK", (0, 255, 255, 0)), "TIFF", (255, 0, 0), 0),
    ("grey", solid("L", 128), "PNG", (128, 128, 128), 0),
    ("bilevel", solid("1", 1), "PNG", (255, 255, 255), 0),
    (
        "palette",
        solid("RGB", (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE),
        "PNG",
        (10, 200, 30),
        0,
    ),
    ("palette-transparent-on-white", palette_with_transparency(), "PNG", (255, 255, 255), 0),
    ("rgba-transparent-on-white", solid("RGBA", (10, 20, 30, 0)), "PNG", (255, 255, 255), 0),
    ("rgba-opaque", solid("RGBA", (10, 20, 30, 255)), "PNG", (10, 20, 30), 0),
    ("rgba-half-composited", solid("RGBA", (0, 0, 0, 128)), "PNG", (127, 127, 127), 1),
    ("grey-alpha-on-white", solid("LA", (0, 0)), "PNG", (255, 255, 255), 0),
    ("rgba-webp", solid("RGBA", (10, 20, 30, 0)), "WEBP", (255, 255, 255), 2),
    ("16-bit-png", array(np.full((18, 24), 257 * 100, np.uint16)), "PNG", (100, 100, 100), 0),
    ("16-bit-tiff", array(np.full((18, 24), 65535, np.uint16)), "TIFF", (255, 255, 255), 0),
    ("float-0-255", solid("F", 77.0), "TIFF", (77, 77, 77), 0),
    ("float-0-1", solid("F", 0.5), "TIFF", (128, 128, 128), 0),
    ("rgb-tiff", solid("RGB", (30, 200, 30)), "TIFF", (30, 200, 30), 0),
    ("bmp", solid("RGB", (30, 200, 30)), "BMP", (30, 200, 30), 0),
    (
        "gif-animated-first-frame",
        [solid("RGB", (200, 0, 0)).convert("P"), solid("RGB", (0, 0, 200)).convert("P")],
        "GIF",
        (200, 0, 0),
        10,
    ),
    ("tiff-pages-first-page", [solid("RGB", (200, 0, 0)), solid("RGB", (0, 0, 200))], "TIFF", (200, 0, 0), 0),
]


@pytest.mark.parametrize(
    ("image", "fmt", "rgb", "tolerance"), [c[1:] for c in MODES], ids=[c[0] for c in MODES]
)
def test_every_mode_decodes_to_rgb_with_its_colour(image, fmt, rgb, tolerance):
    decoded = decode(encode(image, fmt), max_pixels=MAX_PIXELS)

    assert decoded.image.mode == "RGB"
    assert decoded.format == fmt
    pixel = np.asarray(decoded.image)[9, 12].astype(int)
    assert np.abs(pixel - np.array(rgb)).max() <= tolerance, pixel


def quadrants() -> Image.Image:
    """40x30: red top-left, green top-right, blue bottom-left, white bottom-right."""
    image = Image.new("RGB", (40, 30), (255, 255, 255))
    image.paste((255, 0, 0), (0, 0, 20, 15))
    image.paste((0, 255, 0), (20, 0, 40, 15))
    image.paste((0, 0, 255), (0, 15, 20, 30))
    return image


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied(orientation):
    # What a camera stores for each tag is the displayed image with the tag's inverse applied; decoding
    # must give the displayed image back.
    displayed = quadrants()
    inverse = {
        1: [],
        2: [Image.Transpose.FLIP_LEFT_RIGHT],
        3: [Image.Transpose.ROTATE_180],
        4: [Image.Transpose.FLIP_TOP_BOTTOM],
        5: [Image.Transpose.TRANSPOSE],
        6: [Image.Transpose.ROTATE_90],
        7: [Image.Transpose.TRANSVERSE],
        8: [Image.Transpose.ROTATE_270],
    }[orientation]
    stored = displayed
    for step in inverse:
        stored = stored.transpose(step)
    exif = Image.Exif()
    exif[0x0112] = orientation

    decoded = decode(encode(stored, "PNG", exif=exif), max_pixels=MAX_PIXELS).image

    assert decoded.size == (40, 30)
    assert np.array_equal(np.asarray(decoded), np.asarray(displayed))


def test_jpeg_draft_keeps_the_shorter_side_at_least_the_target():
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (600, 800, 3), dtype=np.uint8))
    data = encode(photo, "JPEG", quality=90)

    full = decode(data, max_pixels=MAX_PIXELS)
    reduced = decode(data, max_pixels=MAX_PIXELS, min_shorter_side=256)

    assert full.image.size == (800, 600)
    assert reduced.image.size == (400, 300)  # 1/2 scale: 1/4 would make the shorter side 150
    assert (reduced.width, reduced.height) == (800, 600)  # the source size as declared


def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def truncated_png() -> bytes:
    data = encode(
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "PNG"
    )
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "reason", "words"),
    [
        pytest.param(b"", "empty", "empty", id="empty"),
        pytest.param(b"just some text", "unsupported", "supported format", id="text"),
        pytest.param(b"%PDF-1.7 " + bytes(64), "unsupported", "PDF", id="pdf"),
        pytest.param(b"\x00\x00\x00\x18ftypheic" + bytes(64), "unsupported", "HEIC", id="heic"),
        pytest.param(encode(solid("RGB", (1, 2, 3)), "PPM"), "unsupported", "supported format", id="ppm"),
        pytest.param(truncated_png(), "corrupt", "corrupt or truncated", id="truncated"),
        pytest.param(png_header_only(4000, 3000), "too_many_pixels", "limit is 10000000", id="over-our-cap"),
        pytest.param(
            png_header_only(60_000, 60_000), "too_many_pixels", "too many pixels", id="over-pils-cap"
        ),
    ],
)
def test_unusable_input_raises_its_reason(data, reason, words):
    with pytest.raises(DecodeError, match=words) as caught:
        decode(data, max_pixels=MAX_PIXELS)

    assert caught.value.reason == reason
