from __future__ import annotations

from functools import lru_cache

from common.settings import ServiceSettings
from pydantic import Field

MIB = 1024 * 1024


class Settings(ServiceSettings):
    """Read from ``TRAINYARD_INFERENCE_*`` first, then ``TRAINYARD_*`` (see ``ServiceSettings``)."""

    service_name = "inference"

    max_image_bytes: int = Field(
        20 * MIB, ge=1024, description="largest body for POST /predict, and largest single file in a batch"
    )
    max_batch_bytes: int = Field(128 * MIB, ge=1024, description="largest body for POST /predict/batch")
    max_batch_files: int = Field(64, ge=1, le=1024, description="most files in one POST /predict/batch")
    max_image_pixels: int = Field(
        64_000_000, ge=1, description="decompression-bomb guard: images with more pixels are refused"
    )
    session_cache_size: int = Field(
        8, ge=1, description="ONNX Runtime sessions kept loaded (LRU by model id)"
    )
    intra_op_threads: int = Field(
        2, ge=0, description="ONNX Runtime threads per inference call; 0 lets onnxruntime use every core"
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
