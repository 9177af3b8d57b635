"""Admission control: a bounded number of prediction requests per model and in all.

A request is admitted (or refused) once its body has arrived and before it is decoded: an overload
costs a refusal, not a decode, and a client that uploads slowly holds no place while it does.
Admitted requests always run to completion; past either bound the answer is 503 with
``Retry-After`` instead of every request's latency growing without limit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from inference.predict.errors import Overloaded


class Admission:
    def __init__(
        self,
        *,
        max_in_flight: int,
        max_per_model: int,
        retry_after_s: int,
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        self._on_reject = on_reject or (lambda reason: None)
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

    @contextmanager
    def slot(self, model_id: str) -> Iterator[None]:
        """Hold one place while the request runs. Raises ``Overloaded`` when there is none.

        Check and take happen with no await between them, so on one event loop they cannot race.
        """
        if self._in_flight >= self.max_in_flight:
            self._on_reject("in_flight")
            raise Overloaded(
                f"the inference service is at its limit of {self.max_in_flight} requests in flight; "
                f"retry after {self.retry_after_s} s",
                retry_after_s=self.retry_after_s,
                reason="in_flight",
            )
        if self._per_model[model_id] >= self.max_per_model:
            self._on_reject("model_queue")
            raise Overloaded(
                f"this model already has {self.max_per_model} requests queued; retry after "
                f"{self.retry_after_s} s, or send several inputs in one batch request",
                retry_after_s=self.retry_after_s,
                reason="model_queue",
            )
        self._in_flight += 1
        self._per_model[model_id] += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._per_model[model_id] -= 1
            if not self._per_model[model_id]:
                del self._per_model[model_id]
