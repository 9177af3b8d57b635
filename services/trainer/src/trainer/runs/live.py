"""A run's live progress: which phase it is in, the counter within that phase, the latest epoch's
metrics, and the ETA derived from them. Pure functions over the run's columns, so the worker-event
path, the state changes and ``GET /runs/{id}`` agree on one definition.

The counter (``runs.counter``) is ``{phase, done, total, unit, started_at, start_done, updated_at}``:
the rate is measured from when the phase's counter started (``start_done`` lets a resumed run
start above zero), so the ETA is the time the current phase still needs at the rate seen so far.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common.events import EPOCH_TYPES, PhaseEvent, ProgressEvent, WorkerEvent, event_json

from trainer.runs.models import Run

VIEW_FIELDS = ("phase", "progress", "eta_s", "latest_metrics")


def _stamp(value: str | datetime) -> datetime:
    from trainer.runs.repository import aware

    return aware(value if isinstance(value, datetime) else datetime.fromisoformat(value))


def counter(
    *, phase: str, done: int, total: int, unit: str, previous: dict[str, Any] | None, at: datetime
) -> dict[str, Any]:
    """The new counter; keeps the previous one's start while it counts the same thing upward."""
    same = (
        previous is not None
        and previous.get("phase") == phase
        and previous.get("unit") == unit
        and previous.get("total") == total
        and int(previous.get("done", 0)) <= done
    )
    start = (previous["started_at"], previous["start_done"]) if same else (at.isoformat(), done)
    return {
        "phase": phase,
        "done": done,
        "total": total,
        "unit": unit,
        "started_at": start[0],
        "start_done": start[1],
        "updated_at": at.isoformat(),
    }


def phase_values(run: Run, phase: str, at: datetime) -> dict[str, Any]:
    """Columns for entering ``phase`` (nothing changes when the run is in it already)."""
    if run.phase == phase:
        return {}
    return {"phase": phase, "phase_started_at": at, "counter": None}


def apply(run: Run, event: WorkerEvent, at: datetime) -> dict[str, Any]:
    """The columns a worker's event changes (besides ``progress``, the last event as it came)."""
    if isinstance(event, PhaseEvent):
        values = phase_values(run, event.phase, at)
        if event.phase == "training" and event.epochs:
            previous = None if values else run.counter
            done = event.resumed_from_epoch or 0
            values["counter"] = counter(
                phase="training",
                done=min(done, event.epochs),
                total=event.epochs,
                unit="epochs",
                previous=previous,
                at=at,
            )
        return values
    if isinstance(event, ProgressEvent):
        values = phase_values(run, event.phase, at)
        previous = None if values else run.counter
        values["counter"] = counter(
            phase=event.phase, done=event.done, total=event.total, unit=event.unit, previous=previous, at=at
        )
        return values
    if event.type in EPOCH_TYPES:
        values: dict[str, Any] = {"latest_epoch": event_json(event)}
        epochs = getattr(event, "epochs", None)
        current = run.counter or {}
        # An epoch counts on a counter of epochs only: a finer one (batches) the worker sends itself.
        if epochs and (not current or current.get("unit") == "epochs") and event.epoch <= epochs:
            phase = run.phase or "training"
            previous = current if current.get("phase") == phase else None
            values["counter"] = counter(
                phase=phase, done=event.epoch, total=epochs, unit="epochs", previous=previous, at=at
            )
        return values
    return {}


def eta_s(run: Run, now: datetime) -> float | None:
    """Seconds the current phase still needs at the rate its counter has moved so far; None until
    it has moved (or when the run is not running)."""
    c = run.counter
    if run.status != "running" or not c:
        return None
    done, total, start_done = int(c["done"]), int(c["total"]), int(c["start_done"])
    if done >= total:
        return 0.0
    if done <= start_done:
        return None
    elapsed = (_stamp(c["updated_at"]) - _stamp(c["started_at"])).total_seconds()
    per_unit = elapsed / (done - start_done)
    since = (now - _stamp(c["updated_at"])).total_seconds()
    return round(max(per_unit * (total - done) - since, 0.0), 1)


def view(run: Run, now: datetime) -> dict[str, Any]:
    """``RunOut``'s live fields. A phase without a counter of its own (queued, starting, a phase the
    worker has just entered) counts as one step not yet done, so every phase shows a counter."""
    # A run that waits is queued whatever it did before (a requeued one, a row from before phases).
    phase = "queued" if run.status == "queued" else run.phase
    c = run.counter
    if c and c.get("phase") == phase and run.status != "queued":
        progress = {"done": c["done"], "total": c["total"], "unit": c["unit"]}
    elif run.status in ("queued", "running"):
        progress = {"done": 0, "total": 1, "unit": "steps"}
    else:
        progress = None
    return {
        "phase": phase,
        "progress": progress,
        "eta_s": eta_s(run, now),
        "latest_metrics": run.latest_epoch,
    }
