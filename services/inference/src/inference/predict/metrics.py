"""The inference service's own Prometheus metrics (HTTP latency is in ``common.metrics``)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

BATCH_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
RUN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)


class InferenceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.batch_rows = Histogram(
            "trainyard_inference_batch_rows",
            "Rows (images, texts) per ONNX Runtime run, across the requests that shared it",
            buckets=BATCH_ROW_BUCKETS,
            registry=registry,
        )
        self.run_seconds = Histogram(
            "trainyard_inference_model_run_seconds",
            "Seconds per ONNX Runtime run",
            buckets=RUN_BUCKETS,
            registry=registry,
        )
        self.rejected = Counter(
            "trainyard_inference_rejected_requests",
            "Prediction requests refused by admission control (503 + Retry-After), by bound",
            ["reason"],
            registry=registry,
        )
        self.token_cache = Counter(
            "trainyard_inference_token_cache_lookups",
            "Model token lookups, by whether the in-memory cache answered",
            ["result"],
            registry=registry,
        )
        self.model_cache = Counter(
            "trainyard_inference_model_cache_lookups",
            "Loaded-session lookups, by whether the model was already loaded",
            ["result"],
            registry=registry,
        )
        self._in_flight = Gauge(
            "trainyard_inference_requests_in_flight",
            "Prediction requests admitted and not yet answered",
            registry=registry,
        )
        self._queued = Gauge(
            "trainyard_inference_queue_depth",
            "Prediction requests waiting for a model run (not counting runs in progress)",
            registry=registry,
        )

    def observe_batch(self, rows: int, seconds: float) -> None:
        self.batch_rows.observe(rows)
        self.run_seconds.observe(seconds)

    def token_lookup(self, hit: bool) -> None:
        self.token_cache.labels("hit" if hit else "miss").inc()

    def model_lookup(self, hit: bool) -> None:
        self.model_cache.labels("hit" if hit else "miss").inc()

    def watch(self, *, in_flight: Callable[[], float], queued: Callable[[], float]) -> None:
        """Gauges read at scrape time from the live counters."""
        self._in_flight.set_function(in_flight)
        self._queued.set_function(queued)
