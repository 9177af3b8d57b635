"""Where tensors live and which fast paths the device has: CUDA when present, channels_last, bf16 autocast."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Device:
    torch: torch.device
    autocast_dtype: torch.dtype | None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.torch.type, dtype=self.autocast_dtype)


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
