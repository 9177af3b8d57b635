"""Settings base. Each service reads ``TRAINYARD_<SERVICE>_*`` first, then the shared ``TRAINYARD_*``.

Nothing is built at import time: services call their own cached ``get_settings()``, which goes through
``load_settings`` so a refused configuration stops the process with one message naming each variable.

Fail closed: the environment defaults to ``production``, where a placeholder or missing secret is refused.
Only an explicit ``TRAINYARD_ENVIRONMENT=local`` (``make up``, the embedded launcher) or ``test`` (the test
harness) accepts the development defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

SHARED_PREFIX = "TRAINYARD_"
LOCAL_INTERNAL_TOKEN = "local-dev-internal-token"
DEVELOPMENT_ENVIRONMENTS = frozenset({"local", "test"})
MIN_SECRET_LENGTH = 32
Environment = Literal["local", "test", "production"]
# Never echoed: not in error messages, not in public_dict().
SECRET_FIELDS = frozenset({"internal_token", "s3_secret_key", "s3_access_key", "database_url"})


class ServiceSettings(BaseSettings):
    service_name: ClassVar[str] = "service"
    # The gateway never touches the object store: it neither builds one nor needs its credentials.
    uses_store: ClassVar[bool] = True

    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter="__")

    environment: Environment = Field(
        "production", description="local/test accept development placeholders; production fails closed"
    )
    data_dir: Path = Path("var")
    database_url: str | None = Field(None, description="default: SQLite file under data_dir")
    migrate_on_start: bool | None = Field(
        None,
        description="apply migrations at start; default: yes in local/test, no in production, where the "
        "migrations step (`python -m <service>.migrate`) runs once and the service only checks the version",
    )
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
        if self.is_development:
            return self
        problems = [self._explain(name) for name in self._missing_secrets()] + self.production_problems()
        if problems:
            raise ValueError(
                f"TRAINYARD_ENVIRONMENT={self.environment} refuses development settings or secrets:\n  - "
                + "\n  - ".join(problems)
                + "\n(on a developer machine, set TRAINYARD_ENVIRONMENT=local to accept the defaults)"
            )
        return self

    def production_problems(self) -> list[str]:
        """A service's own fail-open settings, refused outside local/test mode (override to add some)."""
        return []

    def _missing_secrets(self) -> list[str]:
        missing = []
        token = self.internal_token
        if not token or token == LOCAL_INTERNAL_TOKEN or len(token) < MIN_SECRET_LENGTH:
            missing.append("internal_token")
        if self.uses_store and self.store_backend == "s3":
            missing += [name for name in ("s3_access_key", "s3_secret_key") if not getattr(self, name)]
        return missing

    def _explain(self, name: str) -> str:
        variable = f"{SHARED_PREFIX}{name.upper()}"
        if name == "internal_token":
            what = (
                "is the development placeholder or shorter than 32 characters; set it to one random "
                "secret shared by all services, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        else:
            what = "is empty but the object store is S3; set it to the bucket's credentials"
        return f"{variable} (or {SHARED_PREFIX}{self.service_name.upper()}_{name.upper()}) {what}"

    @property
    def is_development(self) -> bool:
        return self.environment in DEVELOPMENT_ENVIRONMENTS

    @property
    def migrates_on_start(self) -> bool:
        return self.is_development if self.migrate_on_start is None else self.migrate_on_start

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{self.service_name}.db').resolve()}"

    @property
    def resolved_store_root(self) -> Path:
        return self.store_root or self.data_dir / "objects"

    def public_dict(self) -> dict[str, Any]:
        return {k: ("***" if k in SECRET_FIELDS else v) for k, v in self.model_dump(mode="json").items()}


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


class SettingsRefused(SystemExit):
    """A configuration the service must not start with: exits with status 1 and the message, no traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def load_settings(cls: type[SettingsT]) -> SettingsT:
    """Build a service's settings from the environment, or stop with one message naming each variable."""
    try:
        return cls()
    except ValidationError as e:
        lines = []
        for error in e.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["loc"]:
                field = ".".join(str(part) for part in error["loc"])
                variable = f"{SHARED_PREFIX}{field.replace('.', '__').upper()}"
                shown = "" if error["loc"][0] in SECRET_FIELDS else f" (got {error.get('input')!r})"
                message = f"{variable}: {message}{shown}"
            lines.append(message)
        raise SettingsRefused(
            f"trainyard {cls.service_name}: refusing to start with this configuration:\n" + "\n".join(lines)
        ) from None
