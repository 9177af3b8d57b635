from __future__ import annotations

from datetime import datetime

from common.db import make_base
from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

Base = make_base()


class User(Base):
    """Accounts (issue 7) grow from this table; in single-user mode it holds the local user."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
