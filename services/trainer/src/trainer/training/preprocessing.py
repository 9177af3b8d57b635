"""Decoding for training, and the normalisation constants of the backbones. The evaluation/inference
transform itself (resize, centre crop, standardise) is ``common.imaging``, shared with the inference
service; its ``resize``, ``input_size``, ``mean`` and ``std`` are written into the model card."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)


def decode_rgb(data: bytes) -> Image.Image:
    """JPEG/PNG bytes -> loaded RGB image, EXIF orientation applied."""
    with Image.open(io.BytesIO(data)) as img:
        img = ImageOps.exif_transpose(img)
        return img.convert("RGB")
