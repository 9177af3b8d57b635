"""Image bytes -> the float32 tensor a model card describes, in PIL + numpy.

Decoding is ``common.decoding`` and the transform after it ``common.imaging.preprocess``: the same
functions the dataset service and the trainer's evaluation path and ONNX check use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from common.decoding import DecodeError, decode_rgb
from common.imaging import Preprocessing, preprocess
from PIL import Image

from inference.predict.errors import ImageTooLarge, InvalidImage
from inference.predict.feeds import Feeds
from inference.predict.sessions import LoadedModel


def decode_image(data: bytes, *, max_pixels: int, min_shorter_side: int | None = None) -> Image.Image:
    """Fully decoded, EXIF-oriented RGB image: ``common.decoding``, the decoder training used too.

    The pixel cap is checked right after the header is read, before any pixel is decoded, rather than
    through Pillow's process-wide ``MAX_IMAGE_PIXELS`` (global state, unsafe to set per call).
    """
    try:
        return decode_rgb(data, max_pixels=max_pixels, min_shorter_side=min_shorter_side)
    except DecodeError as e:
        if e.reason == "too_many_pixels":
            raise ImageTooLarge(e.message) from e
        raise InvalidImage(e.message) from e


def preprocess_image(data: bytes, *, spec: Preprocessing, max_pixels: int) -> np.ndarray:
    """Encoded image -> (1, 3, input_size, input_size) float32. Blocking: call it from a thread."""
    return preprocess(decode_image(data, max_pixels=max_pixels, min_shorter_side=spec.resize), spec)[
        np.newaxis
    ]


def image_feeds(
    loaded: LoadedModel, images: Sequence[tuple[str, bytes]], *, max_pixels: int, name_files: bool = True
) -> Feeds:
    """An image model's feeds: its one input, (N, 3, S, S). Errors name the file unless ``name_files``
    is false (a single-image request)."""
    if not name_files and len(images) == 1:
        batch = preprocess_image(images[0][1], spec=loaded.preprocessing, max_pixels=max_pixels)
    else:
        batch = preprocess_batch(images, spec=loaded.preprocessing, max_pixels=max_pixels)
    return {loaded.input_names[0]: batch}


def preprocess_batch(
    images: Sequence[tuple[str, bytes]], *, spec: Preprocessing, max_pixels: int
) -> np.ndarray:
    """(filename, bytes) pairs -> (N, 3, S, S). A failure names the file by index and filename."""
    arrays = []
    for index, (filename, data) in enumerate(images):
        try:
            image = decode_image(data, max_pixels=max_pixels, min_shorter_side=spec.resize)
            arrays.append(preprocess(image, spec))
        except (InvalidImage, ImageTooLarge) as e:
            raise type(e)(
                f"file {index} ({filename!r}): {e.message}", detail={"index": index, "filename": filename}
            ) from e
    return np.stack(arrays)
