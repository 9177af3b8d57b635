"""The evaluation/inference transform, in PIL + numpy only, so the inference service can repeat it exactly.

    RGB image -> shorter side resized to ``resize`` (PIL bilinear; longer side = long * resize // short)
              -> centre crop ``input_size`` x ``input_size`` (left = (w - s) // 2, top = (h - s) // 2)
              -> float32 / 255 -> (x - mean) / std -> CHW

``resize``, ``input_size``, ``mean`` and ``std`` are written into the model card.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from common.contracts import resized_size
from PIL import Image, ImageOps

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Preprocessing:
    input_size: int
    resize: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def as_dict(self) -> dict[str, object]:
        return {
            "input_size": self.input_size,
            "resize": self.resize,
            "mean": list(self.mean),
            "std": list(self.std),
        }


def decode_rgb(data: bytes) -> Image.Image:
    """JPEG/PNG bytes -> loaded RGB image, EXIF orientation applied."""
    with Image.open(io.BytesIO(data)) as img:
        img = ImageOps.exif_transpose(img)
        return img.convert("RGB")


def resize_shorter_side(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    new = resized_size(w, h, shorter_side=size)
    return img if new == (w, h) else img.resize(new, Image.BILINEAR)


def center_crop(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def eval_pixels(img: Image.Image, *, resize: int, size: int) -> np.ndarray:
    """uint8 HWC pixels of the centre crop the network sees at evaluation time."""
    return np.asarray(center_crop(resize_shorter_side(img, resize), size), dtype=np.uint8)


def normalize(pixels: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """uint8 HWC (or NHWC) -> float32 CHW (or NCHW), scaled to [0, 1] then standardised."""
    x = pixels.astype(np.float32) / np.float32(255.0)
    x = (x - np.asarray(prep.mean, dtype=np.float32)) / np.asarray(prep.std, dtype=np.float32)
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))


def preprocess(img: Image.Image, prep: Preprocessing) -> np.ndarray:
    """The whole inference transform of one image: float32 CHW."""
    return normalize(eval_pixels(img.convert("RGB"), resize=prep.resize, size=prep.input_size), prep)
