"""A warm worker (``python -m trainer.training --await-spec``, ``training/warm_start.py``) is handed its
attempt on stdin and then behaves as a process started for it: the attempt's token on its events, its
output in the attempt's log, its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .test_entrypoint import EventSink


def test_a_warm_worker_runs_the_attempt_it_is_handed(spec_for, tmp_path):
    sink = EventSink()
    env = {k: v for k, v in os.environ.items() if k != "TRAINYARD_RUN_TOKEN"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "trainer.training", "--await-spec"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        spec = spec_for("run-warm-1", epochs=0).model_copy(update={"report_url": sink.url})  # a bad config
        spec_path, log_path = tmp_path / "spec-1.json", tmp_path / "run-warm-1" / "attempt-1.log"
        spec_path.write_text(spec.model_dump_json())
        log_path.parent.mkdir()
        handoff = {"spec": str(spec_path), "log": str(log_path), "token": "attempt-token"}
        worker.communicate(json.dumps(handoff).encode() + b"\n", timeout=120)
    finally:
        sink.shutdown()
    assert worker.returncode == 1
    (token, event), *_ = [(t, e) for t, e in sink.received if e["type"] == "failed"]
    assert token == "Bearer attempt-token" and "epochs" in event["error"]
    assert "training failed" in log_path.read_text()  # its output went to the attempt's log
