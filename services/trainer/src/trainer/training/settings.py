"""Settings of the training process (``python -m trainer.training``); the trainer API passes them by env."""

from __future__ import annotations

from pathlib import Path

from common.settings import ServiceSettings
from pydantic import Field, field_validator

RUN_TOKEN_ENV = "TRAINYARD_RUN_TOKEN"  # the attempt's token, which its executor (or warm worker) sets


class TrainingSettings(ServiceSettings):
    service_name = "trainer"
    # A launched attempt reaches objects through the trainer with its run token (``run_store``); store
    # settings matter only to ``python -m trainer.training`` run by hand, so none are demanded.
    uses_store = False

    weights_dir: Path | None = Field(None, description="directory of torchvision ImageNet weight files")
    worker_threads: int = Field(0, ge=0, description="torch threads; 0 = torch's default (all cores)")
    imagenet_data_root: Path = Field(
        Path("var/imagenet"),
        description="where an imagenet run's prepared data sets are (config.data names one); a PVC mount",
    )
    report_timeout_s: float = Field(5.0, gt=0, description="per progress POST")
    report_attempts: int = Field(
        4, ge=1, le=20, description="tries per progress event before giving up on it"
    )

    run_token: str = Field(
        "",
        validation_alias=RUN_TOKEN_ENV,
        description="this attempt's own credential for its events (set by the executor)",
    )
    exit_with_parent: bool = Field(
        False,
        validation_alias="TRAINYARD_EXIT_WITH_PARENT",
        description="a local worker ends when the trainer that started it is gone",
    )

    def _missing_secrets(self) -> list[str]:
        # A worker never holds the shared internal token: its credential is its attempt's own token.
        return [name for name in super()._missing_secrets() if name != "internal_token"]

    @field_validator("weights_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value
