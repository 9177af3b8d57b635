"""The live view's arithmetic: counters per phase, the ETA from a counter's rate, the throttled
``PhaseCounter`` of the training process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from common.events import EpochEvent, PhaseEvent, ProgressEvent
from trainer.runs import live
from trainer.runs.models import Run
from trainer.training.progress import PhaseCounter

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def running(**columns) -> Run:
    return Run(**({"status": "running", "phase": "starting", "counter": None} | columns))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def apply_all(run: Run, events: list[tuple[float, object]]) -> Run:
    for seconds, event in events:
        for name, value in live.apply(run, event, at(seconds)).items():
            setattr(run, name, value)
    return run


@pytest.mark.parametrize(
    ("events", "now", "expected"),
    [
        # 10 of 40 images in 2 s: 30 more take 6 s, 1 s of which has passed.
        (
            [
                (0, ProgressEvent(phase="features", done=0, total=40, unit="images")),
                (2, ProgressEvent(phase="features", done=10, total=40, unit="images")),
            ],
            3,
            5.0,
        ),
        # Nothing counted yet: no rate, no ETA.
        ([(0, ProgressEvent(phase="features", done=0, total=40, unit="images"))], 3, None),
        # A resumed run's counter starts at 4 of 10 epochs; its rate counts only what this attempt did.
        (
            [
                (0, PhaseEvent(phase="training", epochs=10, resumed_from_epoch=4)),
                (5, EpochEvent(epoch=5, epochs=10)),
                (10, EpochEvent(epoch=6, epochs=10)),
            ],
            10,
            20.0,
        ),
        # A new phase starts a new counter: the old rate says nothing about it.
        (
            [
                (0, ProgressEvent(phase="features", done=0, total=4, unit="images")),
                (1, ProgressEvent(phase="features", done=4, total=4, unit="images")),
                (1, PhaseEvent(phase="export")),
            ],
            2,
            None,
        ),
        # Overdue: never negative.
        (
            [
                (0, ProgressEvent(phase="export", done=0, total=3, unit="steps")),
                (1, ProgressEvent(phase="export", done=1, total=3, unit="steps")),
            ],
            60,
            0.0,
        ),
    ],
    ids=["features", "no-rate-yet", "resumed-epochs", "new-phase", "overdue"],
)
def test_eta_is_the_rest_of_the_phase_at_its_rate_so_far(events, now, expected):
    run = apply_all(running(), events)
    assert live.eta_s(run, at(now)) == expected


def test_every_phase_shows_a_counter_even_before_the_worker_counts():
    run = apply_all(running(), [(0, PhaseEvent(phase="loading"))])
    assert live.view(run, at(1))["progress"] == {"done": 0, "total": 1, "unit": "steps"}
    run = apply_all(run, [(1, ProgressEvent(phase="loading", done=3, total=9, unit="images"))])
    assert live.view(run, at(1))["progress"] == {"done": 3, "total": 9, "unit": "images"}
    assert live.view(running(status="queued", phase="training"), at(1))["phase"] == "queued"


def test_epochs_do_not_override_a_finer_counter_the_worker_sends():
    run = apply_all(
        running(),
        [
            (0, ProgressEvent(phase="training", done=50, total=300, unit="batches")),
            (1, EpochEvent(epoch=1, epochs=6)),
        ],
    )
    assert run.counter["unit"] == "batches" and run.latest_epoch["epoch"] == 1


def test_phase_counter_reports_the_first_the_last_and_at_most_every_interval():
    sent: list[ProgressEvent] = []
    counter = PhaseCounter(sent.append, phase="features", total=1000, unit="images", interval_s=3600)
    for _ in range(1000):
        counter.advance()
    assert [(e.done, e.total) for e in sent] == [(0, 1000), (1000, 1000)]
    every = PhaseCounter(sent.append, phase="features", total=5, unit="images", interval_s=0)
    for _ in range(5):
        every.advance()
    assert [e.done for e in sent[2:]] == [0, 1, 2, 3, 4, 5]
