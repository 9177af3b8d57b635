"""Decoding for training, and the normalisation constants of the backbones. The evaluation/inference
transform itself (resize, centre crop, standardise) is ``common.imaging``, shared with the inference
service; its ``resize``, ``input_size``, ``mean`` and ``std`` are written into the model card."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from common.decoding import decode_rgb as _decode_rgb
from common.imaging import Preprocessing
from PIL import Image

if TYPE_CHECKING:  # torch is imported on use: the quick path on CPU decodes without it
    import torch

    from trainer.training.core.device import Device

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)
# The pack holds images the dataset service validated and downscaled: no bomb can be in it.
PACK_MAX_PIXELS = 1 << 30


def decode_rgb(data: bytes, *, min_shorter_side: int | None = None) -> Image.Image:
    """Bytes -> loaded, oriented RGB image: ``common.decoding``, the decoder serving uses too."""
    return _decode_rgb(data, max_pixels=PACK_MAX_PIXELS, min_shorter_side=min_shorter_side)


def device_images(pixels: np.ndarray | torch.Tensor, prep: Preprocessing, device: Device) -> torch.Tensor:
    """uint8 NHWC -> normalised float32 NCHW on the device, channels_last. Same arithmetic as
    ``common.imaging.normalize`` (x / 255, then (x - mean) / std, in float32)."""
    import torch

    x = torch.as_tensor(pixels).to(device.torch).permute(0, 3, 1, 2).float() / 255.0
    return standardize(x, prep).contiguous(memory_format=torch.channels_last)


def standardize(x: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    import torch

    mean = torch.tensor(prep.mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(prep.std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std
