from __future__ import annotations

from datetime import datetime
from typing import Any

from common.db import make_base
from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

Base = make_base()


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("owner", "idempotency_key", name="uq_runs_owner_idempotency_key"),
        Index("ix_runs_status_finished_at", "status", "finished_at"),  # the retention sweeper's scan
        Index("ix_runs_owner_dataset", "owner", "dataset_id"),
        Index(  # the claim's: the oldest queued run without sorting the queue
            "ix_runs_queued_created_at",
            "created_at",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    dataset_id: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    val_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    manifest_key: Mapped[str] = mapped_column(String(256))
    artifacts_prefix: Mapped[str] = mapped_column(String(256))
    executor: Mapped[str | None] = mapped_column(String(32), nullable=True)
    executor_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    instance_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Set when a delete begins: the run is gone for its owner while its model and objects are removed
    # (``trainer.runs.purge``); the row goes last, so a failure midway is finished by a retry.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The live view (trainer.runs.live): the number of the run's last event, its phase, the counter
    # within that phase and the latest epoch's metrics.
    event_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    phase: Mapped[str | None] = mapped_column(String(16), nullable=True)
    phase_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    counter: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    latest_epoch: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class RunAttempt(Base):
    """One launch of a run. Its token (stored hashed) is the worker's only credential: it is good for
    this run's events and objects while this attempt is the run's current one, and never after."""

    __tablename__ = "run_attempts"

    run_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    executor: Mapped[str] = mapped_column(String(32))
    executor_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)


class RunEventRow(Base):
    """One event of a run's stream (``common.events.RunEvent`` as JSON), numbered per run."""

    __tablename__ = "run_events"

    run_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
