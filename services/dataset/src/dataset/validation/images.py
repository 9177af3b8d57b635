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
from common.decode_budget import bounded_decode
from common.decoding import DecodedImage as Decoded
from common.decoding import DecodeError
from PIL import Image

from dataset.validation.report import Code


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
    upscaled: bool = False  # shorter side below the minimum: kept, upscaled when used


def configure_pillow(*, max_pixels: int) -> None:
    """Pillow's own bomb guard, set to our cap, with its warning turned into an error.

    Process-wide by design (it is Pillow's global); ``decode_image`` also checks the size itself.
    """
    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


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


_CODES = {
    "empty": Code.unsupported,
    "unsupported": Code.unsupported,
    "too_many_pixels": Code.too_many_pixels,
    "corrupt": Code.corrupt,
}


def decode_image(
    data: bytes, *, max_pixels: int, min_side: int, small_side: int, max_side: int, jpeg_quality: int
) -> DecodedImage:
    """Raise ``ImageProblem`` with a reason code, or return the normalized, re-encoded image.

    Decoding is ``common.decoding.decode``, the same function the trainer and the inference service
    call. An image whose shorter side is below ``min_side`` is refused (too little to learn from); one
    below ``small_side`` is kept and marked ``upscaled``: the trainer and the inference service resize
    it up like any other, and the report warns about it once.
    """
    try:
        with bounded_decode(data, max_pixels=max_pixels, min_shorter_side=max_side) as decoded:
            return _normalize(
                data,
                decoded,
                min_side=min_side,
                small_side=small_side,
                max_side=max_side,
                jpeg_quality=jpeg_quality,
            )
    except DecodeError as e:
        raise ImageProblem(_CODES[e.reason], f"Skipped: {e.message}.") from e


def _normalize(
    data: bytes, decoded: Decoded, *, min_side: int, small_side: int, max_side: int, jpeg_quality: int
) -> DecodedImage:
    shorter = min(decoded.width, decoded.height)
    if shorter < min_side:
        raise ImageProblem(
            Code.too_small,
            f"Skipped: {decoded.width}x{decoded.height} is smaller than {min_side} pixels on its shorter "
            "side, too little to learn from.",
        )
    stored = _fit_shorter_side(decoded.image, max_side)
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=jpeg_quality)
    return DecodedImage(
        jpeg=buffer.getvalue(),
        width=stored.width,
        height=stored.height,
        original_width=decoded.width,
        original_height=decoded.height,
        format=decoded.format,
        mode=decoded.mode,
        sha256=hashlib.sha256(data).hexdigest(),
        dhash=dhash(stored),
        upscaled=shorter < small_side,
    )


def thumbnail_data_url(jpeg: bytes, *, side: int = 128) -> str:
    with Image.open(io.BytesIO(jpeg)) as image:
        image.draft("RGB", (side, side))
        image.thumbnail((side, side))
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
