"""Training events: what a training process reports to the trainer, and what the trainer streams to
a client (``GET /runs/{id}/events``). One discriminated union on ``type``; every model refuses unknown
fields, so a misspelt field is a 422 at the trainer (and an error in the worker's own tests), not a
silently missing curve.

A worker sends :data:`WorkerEvent` (``POST /internal/runs/{id}/events``): phase changes, progress
counters, epoch metrics, log lines, heartbeats and its verdict. The trainer adds :class:`StateEvent`
(queued, running, succeeded, ...) itself; a worker cannot send one. A stream carries :data:`RunEvent`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from common.training_config import Mode

# Where a run is. queued/starting are the trainer's; the rest come from the training process, in
# roughly this order (probe and kept_best only in finetune runs; features only when features are used).
Phase = Literal[
    "queued",
    "starting",
    "loading",
    "features",
    "probe",
    "training",
    "kept_best",
    "export",
    "artifacts",
    "finished",
]
# What a progress counter counts.
Unit = Literal["runs", "steps", "images", "texts", "batches", "epochs", "iterations", "files"]
RunState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]

LOG_MESSAGE_MAX = 4000


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class PhaseEvent(_Event):
    """The run entered ``phase``. The optional fields describe it (which ones depends on the phase)."""

    type: Literal["phase"] = "phase"
    phase: Phase
    mode: Mode | None = None
    model: str | None = Field(None, max_length=64, description="text runs: the model family")
    device: str | None = Field(None, max_length=32)
    epochs: int | None = Field(None, ge=0, description="training: the epochs planned")
    resumed_from_epoch: int | None = Field(None, ge=0, description="training: epochs a checkpoint held")
    classes: int | None = Field(None, ge=0)
    cached: bool | None = Field(None, description="features: read from the cache, not computed")
    key: str | None = Field(None, max_length=512, description="features: the cache object's key")
    epoch: int | None = Field(None, ge=0, description="probe/kept_best: the epoch it refers to")
    val_acc: float | None = Field(None, description="probe/kept_best: its validation accuracy")


class ProgressEvent(_Event):
    """``done`` of ``total`` ``unit`` of ``phase`` are finished (a counter within one phase)."""

    type: Literal["progress"] = "progress"
    phase: Phase
    done: int = Field(ge=0)
    total: int = Field(ge=0)
    unit: Unit

    @model_validator(mode="after")
    def _done_within_total(self) -> ProgressEvent:
        if self.done > self.total:
            raise ValueError(f"done ({self.done}) exceeds total ({self.total})")
        return self


class EpochEvent(_Event):
    """Metrics of one epoch of an image or text run (the training core's loop; a quick linear probe
    reports its L-BFGS iterations as epochs). ``stage``: "probe", "finetune" or "head"."""

    type: Literal["epoch"] = "epoch"
    epoch: int = Field(ge=0)
    epochs: int = Field(ge=0)
    stage: str | None = Field(None, max_length=32)
    train_loss: float | None = None
    train_acc: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None
    lr: float | None = None
    seconds: float | None = Field(None, ge=0)
    converged: bool | None = Field(None, description="quick linear probe: L-BFGS converged")


class ImageNetEpochEvent(_Event):
    """Metrics of one epoch of an ``imagenet`` run: top-1/top-5 and throughput, no train accuracy."""

    type: Literal["imagenet_epoch"] = "imagenet_epoch"
    epoch: int = Field(ge=0)
    epochs: int | None = Field(None, ge=0)
    res: int = Field(gt=0, description="the training crop size this epoch (progressive resizing)")
    train_loss: float
    lr: float
    top1: float
    top5: float
    val_images: int = Field(ge=0)
    images_per_s_per_process: float = Field(ge=0)
    data_wait_fraction: float = Field(ge=0)
    world_size: int = Field(ge=1)


class LogEvent(_Event):
    """One log line of the training process (the logs tail of a run)."""

    type: Literal["log"] = "log"
    level: LogLevel = "info"
    message: str = Field(max_length=LOG_MESSAGE_MAX)
    logger: str | None = Field(None, max_length=128)


class HeartbeatEvent(_Event):
    """The process is alive; renews the attempt's lease. Never stored nor streamed."""

    type: Literal["heartbeat"] = "heartbeat"


class SucceededEvent(_Event):
    """The process's own verdict; the trainer ends the run from the stored artifacts."""

    type: Literal["succeeded"] = "succeeded"
    result: dict[str, Any] = Field(default_factory=dict, description="the training summary")


class FailedEvent(_Event):
    """The process's own verdict, with the reason a person can act on."""

    type: Literal["failed"] = "failed"
    error: str = Field(min_length=1, max_length=LOG_MESSAGE_MAX)


class StateEvent(_Event):
    """The run's state changed (written by the trainer only): queued, running (attempt n), and the
    terminal one, which is the last event of a run's stream."""

    type: Literal["state"] = "state"
    status: RunState
    attempt: int = Field(0, ge=0)
    error: str | None = None
    reason: str | None = Field(None, description="why: e.g. requeued after a lost worker")


WorkerEvent = Annotated[
    PhaseEvent
    | ProgressEvent
    | EpochEvent
    | ImageNetEpochEvent
    | LogEvent
    | HeartbeatEvent
    | SucceededEvent
    | FailedEvent,
    Field(discriminator="type"),
]
RunEvent = Annotated[
    PhaseEvent
    | ProgressEvent
    | EpochEvent
    | ImageNetEpochEvent
    | LogEvent
    | SucceededEvent
    | FailedEvent
    | StateEvent,
    Field(discriminator="type"),
]
EpochMetrics = Annotated[EpochEvent | ImageNetEpochEvent, Field(discriminator="type")]

WORKER_EVENT: TypeAdapter[WorkerEvent] = TypeAdapter(WorkerEvent)
RUN_EVENT: TypeAdapter[RunEvent] = TypeAdapter(RunEvent)
EPOCH_TYPES = frozenset({"epoch", "imagenet_epoch"})


_WORKER_TYPES = (
    PhaseEvent,
    ProgressEvent,
    EpochEvent,
    ImageNetEpochEvent,
    LogEvent,
    HeartbeatEvent,
    SucceededEvent,
    FailedEvent,
)
# What a training function calls with each event (``HttpReporter``, ``PrintReporter``, a test's list).
Report = Callable[[WorkerEvent], None]


def worker_event(event: BaseModel | dict[str, Any]) -> WorkerEvent:
    """``event`` as a typed worker event (a dict is validated; raises ``pydantic.ValidationError``)."""
    if isinstance(event, _WORKER_TYPES):
        return event
    if isinstance(event, BaseModel):
        event = event.model_dump()
    return WORKER_EVENT.validate_python(event)


def event_json(event: BaseModel) -> dict[str, Any]:
    """The wire form: the event's fields without the unset optional ones."""
    return event.model_dump(mode="json", exclude_none=True)


def wire_event(event: BaseModel | dict[str, Any]) -> dict[str, Any]:
    """What goes on the wire for ``event`` (validated): a reporter's body, a test's record."""
    return event_json(worker_event(event))
