"""Decode one image completely, normalize it to RGB, and re-encode the copy we store.

Pure function of the bytes; safe to run in worker threads (Pillow releases the GIL while decoding).
"""

from __future__ import annotations

import base64
import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dataset.validation.report import Code

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
_KNOWN_SIGNATURES = {
    b"MZ": "a Windows executable",
    b"\x7fELF": "an ELF executable",
    b"%PDF": "a PDF document",
    b"#!": "a script",
    b"II*\x00": "a TIFF image (not supported)",
    b"MM\x00*": "a TIFF image (not supported)",
}


class ImageProblem(Exception):
    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DecodedImage:
    jpeg: bytes = b""
    width: int = 0
    height: int = 0
    original_width: int = 0
    original_height: int = 0
    format: str = ""
    mode: str = ""
    sha256: str = ""
    dhash: int = 0


def configure_pillow(*, max_pixels: int) -> None:
    """Pillow's own bomb guard, set to our cap, with its warning turned into an error.

    Process-wide by design (it is Pillow's global); ``decode_image`` also checks the size itself.
    """
    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def _describe_unknown(data: bytes) -> str:
    for signature, what in _KNOWN_SIGNATURES.items():
        if data.startswith(signature):
            return f"it is {what}, not an image"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif"):
        return "it is a HEIC/AVIF photo; convert it to JPEG or PNG"
    return "it is not a JPEG, PNG, WebP, BMP or GIF image"


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB for every mode we may meet: CMYK, palette, grey with alpha, 16-bit and float greys."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float64)
        scale = 257.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 1.0
        grey = np.clip(values / scale, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min(initial=0)), float(values.max(initial=0))
        grey = (
            np.zeros(values.shape, np.uint8)
            if high <= low
            else ((values - low) / (high - low) * 255).astype(np.uint8)
        )
        return Image.fromarray(grey).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent pixels become white rather than whatever colour their RGB happens to hold.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def dhash(image: Image.Image) -> int:
    """64-bit difference hash: is each pixel of a 9x8 grey thumbnail brighter than its right neighbour."""
    small = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.BOX), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def _fit_shorter_side(image: Image.Image, max_side: int) -> Image.Image:
    shorter = min(image.size)
    if shorter <= max_side:
        return image
    scale = max_side / shorter
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # Pillow's filters are antialiased when shrinking; bilinear is the cheapest that looks right, and the
    # trainer resizes again to its input size anyway.
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)


def decode_image(
    data: bytes, *, max_pixels: int, min_side: int, max_side: int, jpeg_quality: int
) -> DecodedImage:
    """Raise ``ImageProblem`` with a reason code, or return the normalized, re-encoded image."""
    try:
        image = Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
    except UnidentifiedImageError as e:
        raise ImageProblem(Code.unsupported, f"Skipped: {_describe_unknown(data)}.") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageProblem(Code.too_many_pixels, f"Skipped: more than {max_pixels} pixels.") from e
    except Exception as e:  # Pillow raises many types on damaged headers; each means the same to the user.
        raise ImageProblem(Code.corrupt, f"Skipped: the image header is damaged ({e}).") from e

    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageProblem(
                Code.too_many_pixels, f"Skipped: {width}x{height} is more than the {max_pixels}-pixel cap."
            )
        if min(width, height) < min_side:
            raise ImageProblem(
                Code.too_small,
                f"Skipped: {width}x{height} is smaller than {min_side} pixels on its shorter side.",
            )
        source_format, source_mode = image.format or "", image.mode
        try:
            if source_format == "JPEG":
                # Decode at a reduced DCT scale that still covers max_side: every byte is decoded, faster.
                image.draft("RGB", (max_side, max_side))
            image.load()
            oriented = ImageOps.exif_transpose(image)
            rgb = to_rgb(oriented)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageProblem(Code.too_many_pixels, f"Skipped: more than {max_pixels} pixels.") from e
        except Exception as e:  # truncated data, bad chunks, broken EXIF: the file cannot be used as is
            raise ImageProblem(Code.corrupt, f"Skipped: the image data is damaged ({e}).") from e

    stored = _fit_shorter_side(rgb, max_side)
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=jpeg_quality)
    return DecodedImage(
        jpeg=buffer.getvalue(),
        width=stored.width,
        height=stored.height,
        original_width=width,
        original_height=height,
        format=source_format,
        mode=source_mode,
        sha256=hashlib.sha256(data).hexdigest(),
        dhash=dhash(stored),
    )


def thumbnail_data_url(jpeg: bytes, *, side: int = 128) -> str:
    with Image.open(io.BytesIO(jpeg)) as image:
        image.draft("RGB", (side, side))
        image.thumbnail((side, side))
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
