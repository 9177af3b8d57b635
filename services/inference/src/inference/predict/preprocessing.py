"""Image bytes -> the float32 tensor a model card describes, in PIL + numpy.

Decoding is ``common.decoding`` and the transform after it ``common.imaging.preprocess``: the same
functions the dataset service and the trainer's evaluation path and ONNX check use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from common.decode_budget import bounded_decode
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
        raise _problem(e) from e


def _problem(e: DecodeError) -> ImageTooLarge | InvalidImage:
    return ImageTooLarge(e.message) if e.reason == "too_many_pixels" else InvalidImage(e.message)


def preprocess_bounded(data: bytes, *, spec: Preprocessing, max_pixels: int) -> tuple[np.ndarray, int]:
    """Encoded image -> ((3, S, S) float32, decoded pixels), decoded under the process's decode budget
    (``common.decode_budget``). Blocking: call it from a thread."""
    try:
        with bounded_decode(data, max_pixels=max_pixels, min_shorter_side=spec.resize) as decoded:
            return preprocess(decoded.image, spec), decoded.image.width * decoded.image.height
    except DecodeError as e:
        raise _problem(e) from e


def preprocess_image(data: bytes, *, spec: Preprocessing, max_pixels: int) -> np.ndarray:
    """Encoded image -> (1, 3, input_size, input_size) float32. Blocking: call it from a thread."""
    return preprocess_bounded(data, spec=spec, max_pixels=max_pixels)[0][np.newaxis]


def image_feeds(
    loaded: LoadedModel,
    images: Sequence[tuple[str, bytes]],
    *,
    max_pixels: int,
    max_request_pixels: int | None = None,
    name_files: bool = True,
) -> Feeds:
    """An image model's feeds: its one input, (N, 3, S, S). Errors name the file unless ``name_files``
    is false (a single-image request)."""
    if not name_files and len(images) == 1:
        batch = preprocess_image(images[0][1], spec=loaded.preprocessing, max_pixels=max_pixels)
    else:
        batch = preprocess_batch(
            images, spec=loaded.preprocessing, max_pixels=max_pixels, max_request_pixels=max_request_pixels
        )
    return {loaded.input_names[0]: batch}


def preprocess_batch(
    images: Sequence[tuple[str, bytes]],
    *,
    spec: Preprocessing,
    max_pixels: int,
    max_request_pixels: int | None = None,
) -> np.ndarray:
    """(filename, bytes) pairs -> (N, 3, S, S). A failure names the file by index and filename.

    ``max_request_pixels`` bounds the pixels decoded for the whole request (after JPEG draft scaling)."""
    arrays = []
    total = 0
    for index, (filename, data) in enumerate(images):
        try:
            array, pixels = preprocess_bounded(data, spec=spec, max_pixels=max_pixels)
            arrays.append(array)
            total += pixels
            if max_request_pixels is not None and total > max_request_pixels:
                raise ImageTooLarge(
                    f"the images up to this one decode to {total} pixels, more than the {max_request_pixels} "
                    "one request may decode; send fewer or smaller images per request"
                )
        except (InvalidImage, ImageTooLarge) as e:
            raise type(e)(
                f"file {index} ({filename!r}): {e.message}", detail={"index": index, "filename": filename}
            ) from e
    return np.stack(arrays)
