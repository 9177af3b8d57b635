from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from common.db import make_base
from sqlalchemy import JSON, DateTime, ForeignKey, String, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

Base = make_base()


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out on every backend: SQLite drops the offset, Postgres keeps it."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("owner", "run_id", name="uq_models_owner_run_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    run_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    onnx_key: Mapped[str] = mapped_column(String(512))
    card_key: Mapped[str] = mapped_column(String(512))
    classes: Mapped[list[str]] = mapped_column(JSON)
    card: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ModelToken(Base):
    __tablename__ = "model_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
