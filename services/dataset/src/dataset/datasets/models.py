from __future__ import annotations

from datetime import datetime
from typing import Any

from common.db import make_base
from sqlalchemy import JSON, BigInteger, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

Base = make_base()


class Dataset(Base):
    """An accepted data set. Its objects live under ``datasets/<id>/``; rejected uploads leave no row."""

    __tablename__ = "datasets"
    __table_args__ = (
        UniqueConstraint("owner", "upload_key", name="uq_datasets_owner_upload_key"),
        Index("ix_datasets_owner_created_at", "owner", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(8))
    verdict: Mapped[str] = mapped_column(String(32))
    classes: Mapped[list[str]] = mapped_column(JSON)
    class_counts: Mapped[dict[str, int]] = mapped_column(JSON)
    num_items: Mapped[int] = mapped_column(Integer)
    val_fraction: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    original_filename: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the content and the options that shape the result: the same upload twice is one data set.
    upload_key: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    original_key: Mapped[str] = mapped_column(String(256))
    manifest_key: Mapped[str] = mapped_column(String(256))
    pack_key: Mapped[str | None] = mapped_column(String(256), nullable=True)
    preview_key: Mapped[str] = mapped_column(String(256))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
