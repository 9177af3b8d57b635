"""``python -m trainer.training`` as a real process: reporting over HTTP or stdout, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from common.events import EpochEvent, PhaseEvent
from pydantic import ValidationError
from trainer.training.reporting import HttpReporter

TOKEN = "test-run-token"


class EventSink(ThreadingHTTPServer):
    """A trainer API stand-in that records each POSTed event and the token header it came with."""

    def __init__(self, fail_first: int = 0, answer: int = 204) -> None:
        self.received: list[tuple[str | None, dict]] = []
        self.fail_first = fail_first
        self.answer = answer
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if sink.fail_first > 0:
                    sink.fail_first -= 1
                    self.send_response(503)
                else:
                    sink.received.append((self.headers.get("Authorization"), body))
                    self.send_response(sink.answer)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/internal/runs/r/events"


def run_entrypoint(spec: dict, store_root: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "TRAINYARD_STORE_BACKEND": "local",
        "TRAINYARD_STORE_ROOT": str(store_root),
        "TRAINYARD_RUN_TOKEN": TOKEN,
        "TRAINYARD_TRAINER_WORKER_THREADS": "2",
    }
    return subprocess.run(
        [sys.executable, "-m", "trainer.training", "--spec-json", json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_entrypoint_posts_events_with_the_run_token_and_exits_0(store, spec_for):
    sink = EventSink()
    try:
        spec = spec_for("proc-ok", epochs=1).model_copy(update={"report_url": sink.url})
        done = run_entrypoint(spec.model_dump(), store.root)
    finally:
        sink.shutdown()
    assert done.returncode == 0, done.stderr[-2000:]
    assert {token for token, _ in sink.received} == {f"Bearer {TOKEN}"}
    events = [event for _, event in sink.received]
    assert events[0] == {"type": "phase", "phase": "loading"}
    assert events[-1]["type"] == "succeeded"
    assert events[-1]["result"]["onnx_key"] == "runs/proc-ok/model.onnx"
    assert store.exists("runs/proc-ok/model_card.json")


def test_entrypoint_reports_a_bad_config_naming_the_field_and_exits_1(store, spec_for, tmp_path):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec_for("proc-bad", epochs=0).model_dump_json())
    env = {**os.environ, "TRAINYARD_STORE_ROOT": str(store.root)}
    done = subprocess.run(
        [sys.executable, "-m", "trainer.training", "--spec", str(spec_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert last["type"] == "failed" and "epochs" in last["error"]


def test_reporter_retries_a_briefly_unavailable_api():
    sink = EventSink(fail_first=2)
    try:
        HttpReporter(url=sink.url, token=TOKEN, timeout_s=2, attempts=3, backoff_s=0)(
            PhaseEvent(phase="loading")
        )
    finally:
        sink.shutdown()
    assert sink.received == [(f"Bearer {TOKEN}", {"type": "phase", "phase": "loading"})]


@pytest.mark.parametrize("status", [401, 409])
def test_reporter_stops_the_worker_when_its_attempt_is_refused(status):
    sink = EventSink(answer=status)
    fenced: list[str] = []
    try:
        reporter = HttpReporter(
            url=sink.url, token=TOKEN, timeout_s=2, attempts=3, backoff_s=0, on_fenced=fenced.append
        )
        reporter(EpochEvent(epoch=1, epochs=2))
    finally:
        sink.shutdown()
    assert len(sink.received) == 1 and len(fenced) == 1  # no retry: a refused attempt stops at once


def test_reporter_gives_up_quietly_when_the_api_is_down():
    reporter = HttpReporter(
        url="http://127.0.0.1:9/events", token=TOKEN, timeout_s=0.5, attempts=2, backoff_s=0
    )
    reporter(EpochEvent(epoch=1, epochs=2))  # no exception: training goes on


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("weights", "put the file"),
        ("crash", "retry the run"),
    ],
)
def test_failure_messages_say_what_to_do(error, expected):
    from trainer.training.__main__ import failure_message
    from trainer.training.errors import WeightsMissing

    raised = WeightsMissing("put the file x.pth in y") if error == "weights" else RuntimeError("boom")
    assert expected in failure_message(raised)


def test_reporter_refuses_a_malformed_event_before_sending_it():
    sink = EventSink()
    try:
        reporter = HttpReporter(url=sink.url, token=TOKEN, timeout_s=2, attempts=1, backoff_s=0)
        with pytest.raises(ValidationError, match="exceeds total"):
            reporter({"type": "progress", "phase": "features", "done": 5, "total": 3, "unit": "images"})
        with pytest.raises(ValidationError, match="epoch_typo"):
            reporter({"type": "phase", "phase": "loading", "epoch_typo": 1})
    finally:
        sink.shutdown()
    assert sink.received == []
