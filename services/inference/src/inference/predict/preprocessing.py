"""Image bytes -> the float32 tensor a model card describes, in PIL + numpy.

The trainer's evaluation path implements the same steps; the shared spec is:
decode fully -> EXIF transpose -> RGB -> resize shorter side to ``resize`` (bilinear) ->
centre crop ``input_size`` -> /255 -> (x - mean) / std -> CHW. Change both or neither.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from common.contracts import ModelCard, resized_size
from PIL import Image, ImageOps, UnidentifiedImageError

from inference.predict.errors import ImageTooLarge, InvalidImage

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


@dataclass(frozen=True)
class Preprocessing:
    input_size: int
    resize: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_card(cls, card: ModelCard) -> Preprocessing:
        return cls(
            input_size=card.input_size,
            resize=card.resize,
            mean=tuple(card.mean),  # type: ignore[arg-type]  # the card check guarantees three values
            std=tuple(card.std),  # type: ignore[arg-type]
        )


def centre_crop_box(width: int, height: int, *, size: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the centred ``size`` square; an odd margin leaves the extra pixel
    on the right/bottom."""
    left = (width - size) // 2
    top = (height - size) // 2
    return left, top, left + size, top + size


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


def image_to_array(image: Image.Image, *, spec: Preprocessing) -> np.ndarray:
    """RGB image -> normalized float32 array of shape (3, input_size, input_size)."""
    size = resized_size(image.width, image.height, shorter_side=spec.resize)
    resized = image.resize(size, Image.BILINEAR)
    cropped = resized.crop(centre_crop_box(resized.width, resized.height, size=spec.input_size))
    pixels = np.asarray(cropped, dtype=np.float32) / np.float32(255.0)
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(((pixels - mean) / std).transpose(2, 0, 1), dtype=np.float32)


def preprocess_image(data: bytes, *, spec: Preprocessing, max_pixels: int) -> np.ndarray:
    """Encoded image -> (1, 3, input_size, input_size) float32. Blocking: call it from a thread."""
    return image_to_array(decode_image(data, max_pixels=max_pixels), spec=spec)[np.newaxis]


def preprocess_batch(
    images: Sequence[tuple[str, bytes]], *, spec: Preprocessing, max_pixels: int
) -> np.ndarray:
    """(filename, bytes) pairs -> (N, 3, S, S). A failure names the file by index and filename."""
    arrays = []
    for index, (filename, data) in enumerate(images):
        try:
            arrays.append(image_to_array(decode_image(data, max_pixels=max_pixels), spec=spec))
        except (InvalidImage, ImageTooLarge) as e:
            raise type(e)(
                f"file {index} ({filename!r}): {e.message}", detail={"index": index, "filename": filename}
            ) from e
    return np.stack(arrays)
