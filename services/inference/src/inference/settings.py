from __future__ import annotations

from functools import lru_cache

from common.settings import ServiceSettings, load_settings
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
    max_texts: int = Field(
        1000, ge=1, le=100_000, description="most texts in one text prediction (JSON 'texts' or CSV rows)"
    )
    max_image_pixels: int = Field(
        64_000_000, ge=1, description="decompression-bomb guard: images with more pixels are refused"
    )
    max_request_pixels: int = Field(
        256_000_000, ge=1, description="pixels one POST /predict/batch may decode in total (after JPEG draft)"
    )
    # Memory bound (RSS of the inference process): about 300 MiB at rest with a few models loaded, plus
    # decode_budget_mib of image decoding at any moment, plus the batch tensors (64 x 3 x 224 x 224 float32
    # = 37 MiB): 1 GiB with the defaults. tests/test_hostile_images.py holds the service to that bound
    # under the worst images it accepts; bench/hostile_images.py prints the peak.
    memory_bound_mib: int = Field(1024, ge=256, description="documented RSS bound; the test checks it")
    decode_budget_mib: int = Field(
        512,
        ge=16,
        description="memory all image decodes in this process may use at once; an image needing more is "
        "refused with 413 (e.g. 64 Mpx 8-bit RGB needs 488 MiB, 64 Mpx RGBA 1.5 GiB)",
    )
    max_concurrent_decodes: int = Field(2, ge=1, le=64, description="images decoded at the same time")
    session_cache_size: int = Field(
        8, ge=1, description="ONNX Runtime sessions kept loaded (LRU by model id)"
    )
    intra_op_threads: int | None = Field(
        None, ge=1, description="ONNX Runtime threads per model run; default: one per core of this process"
    )
    model_run_workers: int = Field(
        1,
        ge=1,
        le=16,
        description="model runs at a time across all models; each uses intra_op_threads, so 1 keeps the "
        "cores from being oversubscribed",
    )
    batch_max_rows: int = Field(32, ge=1, le=1024, description="most rows (images, texts) in one model run")
    batch_wait_ms: float = Field(
        2.0,
        ge=0,
        le=50,
        description="longest a request waits for others to share its model run, and only while other "
        "requests for the model are being prepared (a lone request runs at once)",
    )
    inline_run_ms: float = Field(
        1.0,
        ge=0,
        le=10,
        description="a model run measured to take less than this runs on the event loop when no other run "
        "is in progress (a thread hand-off costs more); 0 sends every run to the model-run threads",
    )
    max_in_flight: int = Field(
        64, ge=1, description="admitted prediction requests across all models; past it, 503 + Retry-After"
    )
    max_queue_per_model: int = Field(
        32, ge=1, description="admitted prediction requests per model; past it, 503 + Retry-After"
    )
    max_queue_wait_ms: float = Field(
        400,
        ge=1,
        description="refuse (503 + Retry-After) a request whose expected wait for its model, from the rows "
        "already admitted and the model's measured cost per row, is longer",
    )
    retry_after_s: int = Field(1, ge=1, le=60, description="Retry-After sent with an overload 503")
    token_cache_ttl_s: float = Field(
        1.0,
        ge=0,
        le=1.0,
        description="how long a token -> model lookup is trusted before the database is asked again; "
        "bounds how late a revocation made elsewhere takes effect",
    )
    token_cache_size: int = Field(10_000, ge=1, description="token lookups kept in memory (LRU)")


@lru_cache
def get_settings() -> Settings:
    return load_settings(Settings)
