from __future__ import annotations

import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal

from common.settings import ServiceSettings, load_settings
from common.training_config import Backbone, ImageTrainConfig
from pydantic import Field, model_validator

from trainer.executors.kubernetes.settings import KubernetesSettings


class Settings(ServiceSettings):
    service_name = "trainer"

    executor: Literal["local", "kubernetes"] = Field(
        "local", description="where runs execute: local worker processes, or one Kubernetes Job per attempt"
    )
    kubernetes: KubernetesSettings = Field(
        default_factory=KubernetesSettings, description="the Jobs' settings (TRAINYARD_TRAINER_KUBERNETES__*)"
    )
    local_workers: int = Field(1, ge=1, le=64, description="concurrent local training processes")
    local_warm_worker: bool = Field(
        True,
        description="while no local attempt runs, keep one worker process started with a quick run's "
        "imports done, so the next attempt starts without them (about 1.5 s on 2 cores)",
    )
    worker_command: list[str] = Field(
        ["-m", "trainer.training"],
        description="arguments after the Python interpreter that start one attempt (then --spec FILE)",
    )
    max_attempts: int = Field(
        3, ge=1, le=10, description="a run that crashes is retried up to this many times"
    )
    dispatch_interval_s: float = Field(1.0, gt=0)
    instance_id: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        max_length=128,
        description="names this trainer instance; runs it launched are recovered at once when an instance "
        "with the same id starts (set it per replica when several share a host)",
    )
    lease_s: float = Field(
        30.0, gt=0, description="a running attempt that reports nothing for this long is requeued"
    )
    heartbeat_s: float = Field(0.0, ge=0, description="worker heartbeat period; 0 = a third of lease_s")
    events_poll_s: float = Field(0.25, gt=0, le=5, description="how often a run's event stream reads its log")
    events_keepalive_s: float = Field(
        15.0, gt=0, description="an idle event stream sends a comment this often (under any proxy's timeout)"
    )
    run_deadline_s: int = Field(
        24 * 3600, ge=60, description="an attempt's token expires, and a Job is stopped, after this long"
    )
    worker_threads: int = Field(0, ge=0, description="torch threads per worker; 0 = all cores")
    maintenance: bool = Field(
        False,
        description="force maintenance on for this replica (as the admin switch does for all): new runs "
        "get 503 with Retry-After, running runs finish, queued runs wait",
    )
    maintenance_retry_after_s: int = Field(
        600, ge=1, description="the Retry-After of a run refused during maintenance, unless the switch says"
    )
    run_ttl_days: float = Field(
        0,
        ge=0,
        description="finished runs without a model (failed, cancelled) are removed, with every object "
        "derived from them, this long after they ended; 0 = kept for ever",
    )
    model_ttl_days: float = Field(
        0,
        ge=0,
        description="succeeded runs and their models (registration, tokens, files) are removed this "
        "long after they ended; 0 = kept for ever",
    )
    retention_interval_s: float = Field(300, gt=0, description="how often each replica sweeps expired runs")
    weights_dir: Path | None = Field(None, description="directory of torchvision ImageNet weight files")
    prepare_backbones: list[Backbone] = Field(
        default_factory=lambda: [ImageTrainConfig().backbone],
        description="backbones prepared in the object store at start, in the background, unless they are "
        "already (graph, state, normalisation: quick runs on CPU then start without torch); [] = none",
    )
    prepare_image_size: int = Field(
        ImageTrainConfig().image_size, ge=64, le=512, description="the input size they are prepared for"
    )
    prepare_timeout_s: float = Field(
        600, gt=0, description="a preparation still running after this long is stopped; runs go on"
    )
    max_object_bytes: int = Field(
        8 << 30, gt=0, description="the largest object a training process may write through its token"
    )

    @model_validator(mode="after")
    def _heartbeat_inside_lease(self) -> Settings:
        if self.heartbeat_s == 0:
            self.heartbeat_s = self.lease_s / 3
        if self.heartbeat_s >= self.lease_s:
            raise ValueError("heartbeat_s must be shorter than lease_s, or the lease runs out between beats")
        return self


@lru_cache
def get_settings() -> Settings:
    return load_settings(Settings)
