from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from common.settings import ServiceSettings, load_settings
from pydantic import Field


class Settings(ServiceSettings):
    service_name = "trainer"

    executor: Literal["local"] = Field("local", description="where runs execute")
    local_workers: int = Field(1, ge=1, le=16, description="concurrent local training processes")
    max_attempts: int = Field(
        3, ge=1, le=10, description="a run that crashes is retried up to this many times"
    )
    dispatch_interval_s: float = Field(1.0, gt=0)
    worker_threads: int = Field(0, ge=0, description="torch threads per worker; 0 = all cores")
    weights_dir: Path | None = Field(None, description="directory of torchvision ImageNet weight files")


@lru_cache
def get_settings() -> Settings:
    return load_settings(Settings)
