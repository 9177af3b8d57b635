"""Where a training process sends its progress events: the trainer API (HTTP POST) or stdout."""

from __future__ import annotations

import json
import logging
import sys
import time

import httpx
from common.contracts import INTERNAL_TOKEN_HEADER

log = logging.getLogger(__name__)


class HttpReporter:
    """POSTs each event as JSON. Retries a few times with backoff; a lost event is logged, never raised:
    a trainer API that is briefly down must not kill a training run (the artifacts carry the result)."""

    def __init__(
        self, *, url: str, token: str, timeout_s: float, attempts: int, backoff_s: float = 0.5
    ) -> None:
        self.url = url
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.client = httpx.Client(timeout=timeout_s, headers={INTERNAL_TOKEN_HEADER: token})

    def __call__(self, event: dict) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.client.post(self.url, json=event)
                if response.status_code < 500:
                    if response.is_error:
                        log.warning(
                            "trainer refused event %s: %s %s",
                            event.get("type"),
                            response.status_code,
                            response.text[:200],
                        )
                    return
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as e:
                reason = repr(e)
            if attempt < self.attempts:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
        log.warning("dropped event %s after %d attempts: %s", event.get("type"), self.attempts, reason)

    def close(self) -> None:
        self.client.close()


class PrintReporter:
    """One JSON line per event on stdout (no trainer API to tell)."""

    def __call__(self, event: dict) -> None:
        print(json.dumps(event), file=sys.stdout, flush=True)

    def close(self) -> None:
        pass
