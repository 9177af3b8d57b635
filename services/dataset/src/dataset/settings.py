from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from common.settings import ServiceSettings, load_settings
from pydantic import Field

from dataset.validation.limits import ValidationLimits


class Settings(ServiceSettings):
    service_name = "dataset"

    limits: ValidationLimits = Field(
        default_factory=ValidationLimits,
        description="validation limits; set one with TRAINYARD_DATASET_LIMITS__<NAME>",
    )
    default_seed: int = Field(42, ge=0, description="split and sampling seed when the upload names none")
    decode_threads: int = Field(2, ge=1, le=32, description="threads decoding images of one upload")
    max_concurrent_validations: int = Field(
        2, ge=1, le=64, description="uploads validated at once; others wait (bounds memory)"
    )
    # Memory bound (RSS of the dataset process): about 250 MiB at rest, plus decode_budget_mib of image
    # decoding at any moment (shared by every upload being validated), plus per upload the zip's central
    # directory and the packed copies being written (a few MiB): 1 GiB with the defaults.
    # tests/test_hostile_images.py holds the service to that bound; bench/hostile_images.py prints the peak.
    memory_bound_mib: int = Field(1024, ge=256, description="documented RSS bound; the test checks it")
    decode_budget_mib: int = Field(
        512,
        ge=16,
        description="memory all image decodes in this process may use at once; an image needing more is "
        "skipped with too_many_pixels (e.g. 50 Mpx 8-bit RGB needs 381 MiB, 50 Mpx RGBA 1.1 GiB)",
    )
    max_concurrent_decodes: int = Field(2, ge=1, le=64, description="images decoded at the same time")
    work_dir: Path | None = Field(None, description="scratch space for uploads; default data_dir/tmp/dataset")
    sweep_interval_s: float = Field(600.0, gt=0, description="how often orphan objects are swept")
    sweep_grace_s: float = Field(
        3600.0, ge=0, description="objects younger than this are never swept (an upload may be committing)"
    )

    @property
    def resolved_work_dir(self) -> Path:
        return self.work_dir or self.data_dir / "tmp" / "dataset"


@lru_cache
def get_settings() -> Settings:
    return load_settings(Settings)
