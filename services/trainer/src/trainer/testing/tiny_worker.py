"""``python -m trainer.testing.tiny_worker --spec FILE``: a stand-in training process for the queue's
tests and ``bench/queue.py``, started by the same executors as ``python -m trainer.training``.

It speaks the worker protocol for real: its attempt's token (``TRAINYARD_RUN_TOKEN``) on every event,
heartbeats, exit 75 as soon as the trainer answers 401/409 (superseded), exit with its parent. It
"trains" ``epochs`` epochs of ``epoch_s`` seconds, checkpointing each to the store and resuming from
the checkpoint, then writes a model (a copy of the ONNX file at ``model_from``) and its card.
Standard library only, so hundreds of them start in seconds. Like the real entrypoint it holds no store
credentials: it reads and writes objects through the trainer (``objects_url``) with its token.

Config keys: ``epochs`` (2), ``epoch_s`` (0), ``model_from`` (a store key; no model when absent),
``fail`` (report this error and exit 1 instead of training).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

FENCED_EXIT = 75


class Worker:
    def __init__(self, spec: dict, *, token: str) -> None:
        self.spec = spec
        self.token = token
        self.prefix = spec["output_prefix"]
        self.lock = threading.Lock()

    def post(self, event: dict) -> None:
        if not self.spec.get("report_url"):
            return
        request = urllib.request.Request(
            self.spec["report_url"],
            data=json.dumps(event).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            method="POST",
        )
        with self.lock:
            for attempt in range(5):
                try:
                    with urllib.request.urlopen(request, timeout=5):
                        return
                except urllib.error.HTTPError as e:
                    if e.code in (401, 409):
                        print(f"fenced: {e.code} {e.read()[:200]!r}", flush=True)
                        os._exit(FENCED_EXIT)
                    if e.code < 500:
                        return
                except OSError:
                    pass
                time.sleep(0.1 * 2**attempt)

    def heartbeat(self, interval_s: float) -> None:
        parent = os.getppid()
        watch_parent = os.environ.get("TRAINYARD_EXIT_WITH_PARENT") == "1"

        def beat() -> None:
            while True:
                time.sleep(interval_s)
                if watch_parent and os.getppid() != parent:
                    os._exit(FENCED_EXIT)
                self.post({"type": "heartbeat"})

        threading.Thread(target=beat, daemon=True).start()

    def _object(self, method: str, key: str, data: bytes | None = None) -> bytes | None:
        request = urllib.request.Request(
            f"{self.spec['objects_url']}/{key}",
            data=data,
            headers={"Authorization": f"Bearer {self.token}"},
            method=method,
        )
        for attempt in range(5):
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.read()
            except urllib.error.HTTPError as e:
                if e.code == 404 and method == "GET":
                    return None
                if e.code in (401, 409):
                    print(f"fenced: {e.code} {e.read()[:200]!r}", flush=True)
                    os._exit(FENCED_EXIT)
                if e.code < 500:
                    raise SystemExit(f"{method} {key}: {e.code} {e.read()[:200]!r}") from e
            except OSError:
                pass
            time.sleep(0.1 * 2**attempt)
        raise SystemExit(f"{method} {key}: the trainer's object endpoint did not answer")

    def read(self, key: str) -> bytes | None:
        return self._object("GET", key)

    def write(self, key: str, data: bytes) -> None:
        self._object("PUT", key, data)

    def run(self) -> int:
        config = self.spec.get("config") or {}
        epochs, epoch_s = int(config.get("epochs", 2)), float(config.get("epoch_s", 0))
        self.post({"type": "phase", "phase": "loading"})
        if config.get("fail"):
            self.post({"type": "failed", "error": str(config["fail"])})
            return 1
        checkpoint = json.loads(self.read(self.prefix + "checkpoint.json") or b'{"epoch": 0}')
        start = int(checkpoint["epoch"])
        self.post({"type": "phase", "phase": "training", "epochs": epochs, "resumed_from_epoch": start})
        for epoch in range(start + 1, epochs + 1):
            time.sleep(epoch_s)
            # Report first: a superseded attempt is stopped here, before it overwrites the checkpoint.
            self.post({"type": "epoch", "epoch": epoch, "epochs": epochs})
            self.write(self.prefix + "checkpoint.json", json.dumps({"epoch": epoch}).encode())
        if model_from := config.get("model_from"):
            model = self.read(model_from)
            if model is None:
                raise SystemExit(f"no model at {model_from!r}")
            self.write(self.prefix + "model.onnx", model)
            self.write(self.prefix + "model_card.json", json.dumps(self.card(epochs)).encode())
        self.post({"type": "succeeded", "result": {"epochs": epochs}})
        return 0

    def card(self, epochs: int) -> dict:
        return {
            "task": "image",
            "classes": ["a", "b"],
            "input_size": 16,
            "resize": 18,
            "mean": [0.5, 0.5, 0.5],
            "std": [0.5, 0.5, 0.5],
            "backbone": "tiny-worker",
            "mode": "quick",
            "metrics": {"epochs_trained": epochs},
            "val_accuracy": 1.0,
            "created_at": datetime.now(UTC).isoformat(),
            "run_id": self.spec["run_id"],
            "dataset_id": self.spec["dataset_id"],
        }


def await_handoff() -> list[str] | None:
    """``--await-spec``: the warm-worker handoff of ``trainer.training.warm_start``, standard library only."""
    line = sys.stdin.readline()
    if not line.strip():
        return None
    handoff = json.loads(line)
    log = os.open(handoff["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ["TRAINYARD_RUN_TOKEN"] = handoff["token"]
    return ["--spec", handoff["spec"]]


def main(argv: list[str] | None = None) -> int:
    if (argv if argv is not None else sys.argv[1:]) == ["--await-spec"]:
        if (argv := await_handoff()) is None:
            return 0
    parser = argparse.ArgumentParser(prog="python -m trainer.testing.tiny_worker")
    parser.add_argument("--spec", type=Path, required=True)
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text())
    worker = Worker(spec, token=os.environ.get("TRAINYARD_RUN_TOKEN", ""))
    if spec.get("heartbeat_s"):
        worker.heartbeat(float(spec["heartbeat_s"]))
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
