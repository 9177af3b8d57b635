from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trainer.runs.models import Base


class MaintenanceSwitch(Base):
    """The operators' switch, one row (id 1): in the database so that it survives restarts and every
    trainer replica reads the same state."""

    __tablename__ = "maintenance_switch"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    retry_after_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    changed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
