"""Admission control: bounded prediction work per model and in all.

Three bounds, checked in order: requests in flight across all models, requests admitted for this
model, and the wait a new request for this model can expect (rows already admitted x the model's
recent cost per row, measured as it serves). The last keeps latency bounded when the machine is
slower than the count bounds assume (a heavy model, other load on the cores).

A request is admitted (or refused) once its body has arrived and before it is decoded: an overload
costs a refusal, not a decode, and a client that uploads slowly holds no place while it does.
Admitted requests always run to completion; past either bound the answer is 503 with
``Retry-After`` instead of every request's latency growing without limit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

from inference.predict.errors import Overloaded


class RowCost:
    """Seconds of work per row (model run + preprocessing), as exponentially weighted averages."""

    def __init__(self, *, weight: float = 0.2) -> None:
        self._weight = weight
        self.run_s = 0.0
        self.preprocess_s = 0.0

    def _mix(self, old: float, new: float) -> float:
        return new if old == 0.0 else old + self._weight * (new - old)

    def record_run(self, rows: int, seconds: float) -> None:
        self.run_s = self._mix(self.run_s, seconds / max(rows, 1))

    def record_preprocess(self, rows: int, seconds: float) -> None:
        self.preprocess_s = self._mix(self.preprocess_s, seconds / max(rows, 1))

    @property
    def seconds(self) -> float:
        return self.run_s + self.preprocess_s


class Admission:
    def __init__(
        self,
        *,
        max_in_flight: int,
        max_per_model: int,
        retry_after_s: int,
        max_wait_s: float = float("inf"),
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        self._on_reject = on_reject or (lambda reason: None)
        self.max_wait_s = max_wait_s
        self._rows: Counter[str] = Counter()
        self._costs: dict[str, RowCost] = {}
        self.max_in_flight = max_in_flight
        self.max_per_model = max_per_model
        self.retry_after_s = retry_after_s
        self._per_model: Counter[str] = Counter()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def admitted(self, model_id: str) -> int:
        return self._per_model[model_id]

    def cost(self, model_id: str) -> RowCost:
        return self._costs.setdefault(model_id, RowCost())

    def forget(self, model_id: str) -> None:
        self._costs.pop(model_id, None)

    def expected_wait_s(self, model_id: str, rows: int = 1) -> float:
        cost = self._costs.get(model_id)
        return 0.0 if cost is None else (self._rows[model_id] + rows) * cost.seconds

    def _refuse(self, reason: str, why: str, *, hint: str = "") -> NoReturn:
        """Count the refusal by its bound and raise the 503 that says when to retry."""
        self._on_reject(reason)
        retry = f"retry after {self.retry_after_s} s" + (f", {hint}" if hint else "")
        raise Overloaded(f"{why}; {retry}", retry_after_s=self.retry_after_s, reason=reason)

    @contextmanager
    def slot(self, model_id: str, rows: int = 1) -> Iterator[None]:
        """Hold one place while the request runs. Raises ``Overloaded`` when there is none.

        Check and take happen with no await between them, so on one event loop they cannot race.
        """
        if self._in_flight >= self.max_in_flight:
            self._refuse(
                "in_flight",
                f"the inference service is at its limit of {self.max_in_flight} requests in flight",
            )
        if self._per_model[model_id] >= self.max_per_model:
            self._refuse(
                "model_queue",
                f"this model already has {self.max_per_model} requests queued",
                hint="or send several inputs in one batch request",
            )
        if (wait := self.expected_wait_s(model_id, rows)) > self.max_wait_s:
            self._refuse(
                "expected_wait",
                f"this model's queue would take about {wait * 1000:.0f} ms "
                f"(limit {self.max_wait_s * 1000:.0f} ms)",
            )
        self._in_flight += 1
        self._per_model[model_id] += 1
        self._rows[model_id] += rows
        try:
            yield
        finally:
            self._in_flight -= 1
            self._per_model[model_id] -= 1
            self._rows[model_id] -= rows
            if not self._per_model[model_id]:
                del self._per_model[model_id]
                del self._rows[model_id]
