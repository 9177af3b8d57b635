"""Decoding for training, and the normalisation constants of the backbones. The evaluation/inference
transform itself (resize, centre crop, standardise) is ``common.imaging``, shared with the inference
service; its ``resize``, ``input_size``, ``mean`` and ``std`` are written into the model card."""

from __future__ import annotations

from common.decoding import decode_rgb as _decode_rgb
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)
# The pack holds images the dataset service validated and downscaled: no bomb can be in it.
PACK_MAX_PIXELS = 1 << 30


def decode_rgb(data: bytes, *, min_shorter_side: int | None = None) -> Image.Image:
    """Bytes -> loaded, oriented RGB image: ``common.decoding``, the decoder serving uses too."""
    return _decode_rgb(data, max_pixels=PACK_MAX_PIXELS, min_shorter_side=min_shorter_side)
