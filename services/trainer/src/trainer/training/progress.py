"""``PhaseCounter``: a progress counter within one phase, reported as ``ProgressEvent``s at most every
``interval_s`` (the first and the last always), so a per-batch counter costs a few events a second."""

from __future__ import annotations

import time

from common.events import Phase, ProgressEvent, Report, Unit

REPORT_INTERVAL_S = 0.5


def no_report(event: object) -> None:
    """A ``report`` that keeps nothing (a caller that does not watch progress)."""


def image_loading_counter(report: Report):
    """``on_decoded(done, total)`` for ``load_image_set``: the loading phase's counter of images."""
    counter: PhaseCounter | None = None

    def on_decoded(done: int, total: int) -> None:
        nonlocal counter
        if counter is None:
            counter = PhaseCounter(report, phase="loading", total=total, unit="images")
        counter.update(done)

    return on_decoded


class PhaseCounter:
    def __init__(
        self,
        report: Report,
        *,
        phase: Phase,
        total: int,
        unit: Unit,
        done: int = 0,
        interval_s: float = REPORT_INTERVAL_S,
    ) -> None:
        self.report, self.phase, self.unit = report, phase, unit
        self.total = max(int(total), 0)
        self.done = min(max(int(done), 0), self.total)
        self.interval_s = interval_s
        self._last = float("-inf")
        self._sent = -1
        self._emit(force=True)

    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    def update(self, done: int) -> None:
        self.done = min(max(int(done), 0), self.total)
        self._emit(force=self.done == self.total)

    def _emit(self, *, force: bool) -> None:
        now = time.monotonic()
        if self._sent == self.done or (not force and now - self._last < self.interval_s):
            return
        self._last, self._sent = now, self.done
        self.report(ProgressEvent(phase=self.phase, done=self.done, total=self.total, unit=self.unit))
