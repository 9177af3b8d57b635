"""Training augmentation on whole batches (airbench style): random resized crop, flip, colour jitter,
optional TrivialAugmentWide. Inputs are uint8 NCHW source images already in memory."""

from __future__ import annotations

import math

import torch
from torchvision.ops import roi_align
from torchvision.transforms import v2

LOG_RATIO = (math.log(3 / 4), math.log(4 / 3))


def random_resized_crop(
    src: torch.Tensor, *, size: int, scale_min: float, generator: torch.Generator
) -> torch.Tensor:
    """uint8 [B,3,R,R] -> float [B,3,size,size] in 0..255: a random box of scale_min..1 of the area and
    aspect ratio 3/4..4/3 per image, resampled bilinearly (with 2x2 samples per output pixel)."""
    b, _, h, w = src.shape
    area = h * w * torch.empty(b).uniform_(scale_min, 1.0, generator=generator)
    ratio = torch.exp(torch.empty(b).uniform_(*LOG_RATIO, generator=generator))
    crop_w = torch.sqrt(area * ratio).clamp(max=w)
    crop_h = torch.sqrt(area / ratio).clamp(max=h)
    x0 = torch.rand(b, generator=generator) * (w - crop_w)
    y0 = torch.rand(b, generator=generator) * (h - crop_h)
    boxes = torch.stack([torch.arange(b, dtype=torch.float32), x0, y0, x0 + crop_w, y0 + crop_h], dim=1)
    return roi_align(
        src.float(), boxes.to(src.device), output_size=size, spatial_scale=1.0, sampling_ratio=2, aligned=True
    )


def random_flip(x: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    flip = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(3), x)


def color_jitter(x: torch.Tensor, *, strength: float, generator: torch.Generator) -> torch.Tensor:
    """x in [0, 1]; brightness, contrast and saturation each scaled by a factor in [1 - s, 1 + s]."""
    if strength == 0:
        return x

    def factors() -> torch.Tensor:
        return (
            torch.empty(x.shape[0])
            .uniform_(1 - strength, 1 + strength, generator=generator)
            .to(x.device)
            .view(-1, 1, 1, 1)
        )

    weights = torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
    x = x * factors()
    gray_mean = (x * weights).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    x = (x - gray_mean) * factors() + gray_mean
    gray = (x * weights).sum(1, keepdim=True)
    x = (x - gray) * factors() + gray
    return x.clamp(0, 1)


_TRIVIAL = v2.TrivialAugmentWide()


def trivial_augment(x: torch.Tensor) -> torch.Tensor:
    """float 0..255 batch -> float 0..255, one random TrivialAugmentWide op per image (torch global RNG)."""
    as_uint8 = x.round().clamp(0, 255).to(torch.uint8)
    return torch.stack([_TRIVIAL(img) for img in as_uint8]).float()


def augment_batch(
    src: torch.Tensor,
    *,
    size: int,
    scale_min: float,
    jitter: float,
    trivial: bool,
    generator: torch.Generator,
) -> torch.Tensor:
    """uint8 [B,3,R,R] -> float [B,3,size,size] in [0, 1], not yet standardised."""
    x = random_resized_crop(src, size=size, scale_min=scale_min, generator=generator)
    if trivial:
        x = trivial_augment(x)
    x = random_flip(x / 255.0, generator=generator)
    return color_jitter(x, strength=jitter, generator=generator)
