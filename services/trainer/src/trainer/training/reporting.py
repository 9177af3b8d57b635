"""Where a training process sends its progress events: the trainer API (HTTP POST) or stdout."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable

import httpx
from common.events import LOG_MESSAGE_MAX, HeartbeatEvent, LogEvent, WorkerEvent, event_json, worker_event

log = logging.getLogger(__name__)

# The exit status of a worker whose attempt was superseded (EX_TEMPFAIL): it stops before writing more.
FENCED_EXIT = 75
# 409: this attempt is no longer the run's current one. 401: its token is not (or no longer) valid.
FENCED_STATUSES = (401, 409)


def exit_fenced(reason: str) -> None:
    log.error("stopping: %s", reason)
    logging.shutdown()
    os._exit(FENCED_EXIT)


class HttpReporter:
    """POSTs each event as JSON with the attempt's own token. Retries a few times with backoff; a lost
    event is logged, never raised: a trainer API that is briefly down must not kill a training run (the
    artifacts carry the result). An answer that the attempt was superseded stops the process at once
    (``on_fenced``), so a worker that was paused past its lease cannot overwrite its successor's work."""

    def __init__(
        self,
        *,
        url: str,
        token: str,
        timeout_s: float,
        attempts: int,
        backoff_s: float = 0.5,
        on_fenced: Callable[[str], None] = exit_fenced,
    ) -> None:
        self.url = url
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.on_fenced = on_fenced
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(timeout=timeout_s, headers=headers)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __call__(self, event: WorkerEvent | dict) -> None:
        """Send one event. A malformed one raises ``pydantic.ValidationError`` here, in the worker (a
        programming error, caught by its tests), rather than being refused by the trainer later."""
        body = event_json(worker_event(event))
        with self._lock:  # the heartbeat thread shares the client
            self._post(body)

    def _post(self, event: dict) -> None:
        reason = "no attempt made"
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.client.post(self.url, json=event)
                if response.status_code in FENCED_STATUSES:
                    self.on_fenced(f"the trainer refused this attempt ({response.text[:200]})")
                    return
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

    def start_heartbeat(self, interval_s: float, *, exit_with_parent: bool = False) -> None:
        """Renew the attempt's lease every ``interval_s`` while the process lives, even when training is
        busy in one long step. With ``exit_with_parent`` (a local worker) the process also ends when the
        trainer that started it is gone, so no orphan outlives a restart."""
        parent = os.getppid()

        def beat() -> None:
            while not self._stop.wait(interval_s):
                if exit_with_parent and os.getppid() != parent:
                    self.on_fenced("the trainer that started this worker is gone")
                    return
                self(HeartbeatEvent())

        self._beat = threading.Thread(target=beat, name="heartbeat", daemon=True)
        self._beat.start()

    def close(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        self.client.close()


class PrintReporter:
    """One JSON line per event on stdout (no trainer API to tell)."""

    def __call__(self, event: WorkerEvent | dict) -> None:
        print(json.dumps(event_json(worker_event(event))), file=sys.stdout, flush=True)

    def start_heartbeat(self, interval_s: float, *, exit_with_parent: bool = False) -> None:
        pass

    def close(self) -> None:
        pass


# Loggers whose lines stay local: the HTTP client logs every event it posts, and the reporter's own
# warnings are about sending (they would recurse).
_LOCAL_LOGGERS = ("httpx", "httpcore", __name__)
LOG_LINES_MAX = 2000


class LogForwarder(logging.Handler):
    """Sends the process's log lines (INFO and up) as ``LogEvent``s: the run's logs tail, whatever
    executor runs the process. At most ``max_lines`` per process, then one line saying so."""

    def __init__(self, report: HttpReporter, *, max_lines: int = LOG_LINES_MAX) -> None:
        super().__init__(level=logging.INFO)
        self.report, self.max_lines, self.sent = report, max_lines, 0
        self.setFormatter(logging.Formatter("%(message)s"))
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_LOCAL_LOGGERS) or getattr(self._local, "busy", False):
            return
        if self.sent > self.max_lines:
            return
        self._local.busy = True
        try:
            self.sent += 1
            if self.sent > self.max_lines:
                message, level = f"log lines after the first {self.max_lines} are not kept", "warning"
            else:
                message, level = self.format(record)[:LOG_MESSAGE_MAX], record.levelname.lower()
            if level not in ("debug", "info", "warning", "error", "critical"):
                level = "info"
            self.report(LogEvent(level=level, message=message, logger=record.name[:128]))
        except Exception:  # a log line must never break training
            self.handleError(record)
        finally:
            self._local.busy = False
