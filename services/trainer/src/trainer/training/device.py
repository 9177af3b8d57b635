"""Where tensors live and which fast paths the device has: CUDA when present, channels_last, bf16 autocast."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
from common.imaging import Preprocessing


@dataclass(frozen=True)
class Device:
    torch: torch.device
    autocast_dtype: torch.dtype | None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.torch.type, dtype=self.autocast_dtype)

    def images(self, pixels: np.ndarray | torch.Tensor, prep: Preprocessing) -> torch.Tensor:
        """uint8 NHWC -> normalised float32 NCHW on the device, channels_last. Same arithmetic as
        ``preprocessing.normalize`` (x / 255, then (x - mean) / std, in float32)."""
        x = torch.as_tensor(pixels).to(self.torch).permute(0, 3, 1, 2).float() / 255.0
        return standardize(x, prep).contiguous(memory_format=torch.channels_last)


def standardize(x: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    mean = torch.tensor(prep.mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(prep.std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def _cpu_has_fast_bf16() -> bool:
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def select_device(*, mixed_precision: str) -> Device:
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        fast_bf16 = torch.cuda.is_bf16_supported()
    else:
        # Without AVX512-BF16/AMX, CPU bf16 autocast is slower than float32.
        dev, fast_bf16 = torch.device("cpu"), _cpu_has_fast_bf16()
    return Device(dev, torch.bfloat16 if fast_bf16 and mixed_precision == "auto" else None)
