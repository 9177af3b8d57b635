"""Settings base. Each service reads ``TRAINYARD_<SERVICE>_*`` first, then the shared ``TRAINYARD_*``.

Nothing is built at import time: services call their own cached ``get_settings()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

SHARED_PREFIX = "TRAINYARD_"
LOCAL_INTERNAL_TOKEN = "local-dev-internal-token"


class ServiceSettings(BaseSettings):
    service_name: ClassVar[str] = "service"

    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter="__")

    environment: Literal["local", "test", "production"] = "local"
    data_dir: Path = Path("var")
    database_url: str | None = Field(None, description="default: SQLite file under data_dir")
    migrate_on_start: bool = True
    log_level: str = "INFO"
    log_json: bool = True

    store_backend: Literal["local", "s3"] = "local"
    store_root: Path | None = Field(None, description="LocalStore directory; default data_dir/objects")
    s3_endpoint: str = "localhost:9000"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "trainyard"
    s3_secure: bool = False
    s3_region: str | None = None

    internal_token: str = LOCAL_INTERNAL_TOKEN
    gateway_url: str = "http://127.0.0.1:8000"
    dataset_url: str = "http://127.0.0.1:8001"
    trainer_url: str = "http://127.0.0.1:8002"
    inference_url: str = "http://127.0.0.1:8003"
    http_timeout_s: float = 60.0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        own = EnvSettingsSource(
            settings_cls, env_prefix=f"{SHARED_PREFIX}{cls.service_name.upper()}_", env_nested_delimiter="__"
        )
        shared = EnvSettingsSource(settings_cls, env_prefix=SHARED_PREFIX, env_nested_delimiter="__")
        return (init_settings, own, shared, file_secret_settings)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.environment == "production" and self.internal_token == LOCAL_INTERNAL_TOKEN:
            raise ValueError("TRAINYARD_INTERNAL_TOKEN must be set to a random secret outside local mode")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{self.service_name}.db').resolve()}"

    @property
    def resolved_store_root(self) -> Path:
        return self.store_root or self.data_dir / "objects"

    def public_dict(self) -> dict[str, Any]:
        secret = {"internal_token", "s3_secret_key", "s3_access_key"}
        return {k: ("***" if k in secret else v) for k, v in self.model_dump(mode="json").items()}
