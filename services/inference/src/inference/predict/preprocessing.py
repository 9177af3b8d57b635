"""Image bytes -> the float32 tensor a model card describes, in PIL + numpy.

Decoding is ours (a pixel cap checked before any pixel is decoded, EXIF transpose, 16-bit greys
scaled to RGB); the transform after it is ``common.imaging.preprocess``, the same function the
trainer's evaluation path and ONNX check use.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from common.imaging import Preprocessing, preprocess
from PIL import Image, ImageOps, UnidentifiedImageError

from inference.predict.errors import ImageTooLarge, InvalidImage

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def decode_image(data: bytes, *, max_pixels: int) -> Image.Image:
    """Fully decoded, EXIF-oriented RGB image.

    The pixel cap is checked by us right after the header is read and before any pixel is decoded,
    rather than through PIL's process-wide ``MAX_IMAGE_PIXELS`` and warning filter: those are global
    state that cannot be set per call safely from worker threads.
    """
    if not data:
        raise InvalidImage("the upload is empty; send the image's bytes")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as e:
        raise ImageTooLarge(f"image has too many pixels (limit {max_pixels}); downscale it and retry") from e
    except UnidentifiedImageError as e:
        raise InvalidImage(f"not an image in a supported format ({', '.join(ACCEPTED_FORMATS)})") from e
    except Exception as e:  # PIL plugins raise many exception types on malformed headers
        raise InvalidImage(f"cannot read the image header: {type(e).__name__}: {e}") from e
    pixels = image.width * image.height
    if pixels > max_pixels:
        raise ImageTooLarge(
            f"image is {image.width}x{image.height} = {pixels} pixels; the limit is {max_pixels}: "
            "downscale it"
        )
    if pixels == 0:
        raise InvalidImage("image has no pixels")
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
        return to_rgb(image)
    except Exception as e:  # corrupt or truncated pixel data surfaces as OSError, ValueError, EOFError, ...
        raise InvalidImage(f"image data is corrupt or truncated: {type(e).__name__}: {e}") from e


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any mode. Alpha is dropped (not composited); 16-bit greys are scaled, not clipped."""
    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT_MODES:
        # PIL's own conversion clips 16-bit values at 255, which turns most of the image white.
        values = np.asarray(image, dtype=np.float64)
        grey = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if image.mode == "F":
        grey = np.clip(np.rint(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    return image.convert("RGB")


def preprocess_image(data: bytes, *, spec: Preprocessing, max_pixels: int) -> np.ndarray:
    """Encoded image -> (1, 3, input_size, input_size) float32. Blocking: call it from a thread."""
    return preprocess(decode_image(data, max_pixels=max_pixels), spec)[np.newaxis]


def preprocess_batch(
    images: Sequence[tuple[str, bytes]], *, spec: Preprocessing, max_pixels: int
) -> np.ndarray:
    """(filename, bytes) pairs -> (N, 3, S, S). A failure names the file by index and filename."""
    arrays = []
    for index, (filename, data) in enumerate(images):
        try:
            arrays.append(preprocess(decode_image(data, max_pixels=max_pixels), spec))
        except (InvalidImage, ImageTooLarge) as e:
            raise type(e)(
                f"file {index} ({filename!r}): {e.message}", detail={"index": index, "filename": filename}
            ) from e
    return np.stack(arrays)
