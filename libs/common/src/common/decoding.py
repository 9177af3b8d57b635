"""Image bytes -> an oriented 8-bit RGB image: the one decoder the dataset service (validation), the
trainer and the inference service all call, so a model sees the same pixels in training and serving.

    header (format allow-list, pixel cap checked before any pixel is decoded)
      -> first frame (animated GIF/WebP, multi-page TIFF)
      -> JPEG only: DCT-domain downscale ("draft") while the shorter side stays >= ``min_shorter_side``
      -> EXIF orientation
      -> RGB: transparency composited onto white; 16-bit greys scaled (/257), float greys scaled from
         [0, 1] (or clipped to [0, 255] when their values exceed 1); CMYK, palette, bilevel converted

The transform after decoding (resize, crop, normalise) is ``common.imaging``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
BACKGROUND = (255, 255, 255)
Reason = Literal["empty", "unsupported", "too_many_pixels", "corrupt"]

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_KNOWN_SIGNATURES = {
    b"MZ": "a Windows executable",
    b"\x7fELF": "an ELF executable",
    b"%PDF": "a PDF document",
    b"#!": "a script",
    b"PK\x03\x04": "a zip archive",
}


class DecodeError(Exception):
    """An image that cannot be used; ``reason`` is stable, ``message`` says what to do."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, loaded, oriented
    format: str  # the source format, e.g. "JPEG"
    mode: str  # the source mode, e.g. "RGBA"
    width: int  # the source size as its header declares it (before orientation and draft)
    height: int


def describe_unknown(data: bytes) -> str:
    """What a file that is not an accepted image most likely is, in words a person understands."""
    for signature, what in _KNOWN_SIGNATURES.items():
        if data.startswith(signature):
            return f"it is {what}, not an image"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif"):
        return "it is a HEIC/AVIF photo; convert it to JPEG or PNG"
    return f"it is not an image in a supported format ({', '.join(ACCEPTED_FORMATS)})"


def open_header(data: bytes, *, max_pixels: int) -> Image.Image:
    """The opened (not yet decoded) image; raises ``DecodeError`` before any pixel is decoded."""
    if not data:
        raise DecodeError("empty", "the file is empty; send the image's bytes")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # The warning is raised where a process turned it into an error (the dataset service does).
        raise DecodeError(
            "too_many_pixels", f"it has too many pixels (limit {max_pixels}); downscale it"
        ) from e
    except UnidentifiedImageError as e:
        raise DecodeError("unsupported", describe_unknown(data)) from e
    except Exception as e:  # Pillow plugins raise many types on damaged headers; all mean the same here
        raise DecodeError("corrupt", f"the image header is damaged ({type(e).__name__}: {e})") from e
    pixels = image.width * image.height
    if pixels > max_pixels:
        image.close()
        raise DecodeError(
            "too_many_pixels",
            f"it is {image.width}x{image.height} = {pixels} pixels; the limit is {max_pixels}: downscale it",
        )
    if pixels == 0:
        image.close()
        raise DecodeError("corrupt", "the image has no pixels")
    return image


def decode(data: bytes, *, max_pixels: int, min_shorter_side: int | None = None) -> DecodedImage:
    """Decode completely to RGB. ``min_shorter_side``: a JPEG may be decoded at 1/2, 1/4 or 1/8 scale
    as long as its shorter side stays at least this long (every byte is still read; 2-8x less work)."""
    image = open_header(data, max_pixels=max_pixels)
    with image:
        source_format, source_mode, width, height = image.format or "", image.mode, image.width, image.height
        try:
            if source_format == "JPEG" and min_shorter_side:
                image.draft("RGB", (min_shorter_side, min_shorter_side))
            image.load()
            rgb = to_rgb(ImageOps.exif_transpose(image))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise DecodeError(
                "too_many_pixels", f"it has too many pixels (limit {max_pixels}); downscale it"
            ) from e
        except Exception as e:  # truncated data, bad chunks, broken EXIF: the file cannot be used as is
            raise DecodeError(
                "corrupt", f"the image data is corrupt or truncated ({type(e).__name__}: {e})"
            ) from e
    return DecodedImage(rgb, source_format, source_mode, width, height)


def decode_rgb(data: bytes, *, max_pixels: int, min_shorter_side: int | None = None) -> Image.Image:
    return decode(data, max_pixels=max_pixels, min_shorter_side=min_shorter_side).image


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from every mode Pillow opens (see the module docstring for the rules)."""
    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT_MODES or image.mode == "I":
        values = np.asarray(image, dtype=np.float64)
        # "I" is 32-bit; Pillow also uses it for some 16-bit files: scale when values exceed 8 bits.
        scale = 257.0 if image.mode != "I" or values.max(initial=0) > 255 else 1.0
        return _grey_to_rgb(np.rint(values / scale))
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        finite = values[np.isfinite(values)]
        scale = 255.0 if finite.size and finite.max() <= 1.0 else 1.0
        return _grey_to_rgb(np.rint(np.nan_to_num(values * scale)))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _grey_to_rgb(values: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), mode="L").convert("RGB")
