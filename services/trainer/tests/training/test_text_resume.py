"""A text run killed mid-training (SIGKILL, a real process) resumes from its checkpoint and continues
its epoch count instead of starting over."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import torch
from common.events import wire_event
from common.store import LocalStore
from common.testing.texts import MODEL_CONFIGS, text_spec, write_text_dataset
from trainer.training import run_training

EPOCHS = 6


def test_killed_text_run_resumes_and_continues_its_epoch_count(tmp_path: Path):
    store = LocalStore(tmp_path / "objects")
    write_text_dataset(store)
    spec = text_spec("text-killed", **{**MODEL_CONFIGS["lstm"], "epochs": EPOCHS})
    env = {
        **os.environ,
        "TRAINYARD_STORE_BACKEND": "local",
        "TRAINYARD_STORE_ROOT": str(store.root),
        "TRAINYARD_TRAINER_WORKER_THREADS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "trainer.training", "--spec-json", spec.model_dump_json()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in process.stdout:  # PrintReporter: one JSON event per line
            if json.loads(line)["type"] == "epoch":  # written after that epoch's checkpoint
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.kill()
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    checkpoint = torch.load(
        io.BytesIO(store.get_bytes("runs/text-killed/checkpoint.pt")), map_location="cpu", weights_only=True
    )
    done = checkpoint["epoch"]
    assert 1 <= done < EPOCHS
    assert not store.exists("runs/text-killed/model_card.json")

    events: list[dict] = []
    result = run_training(spec, store=store, report=lambda e: events.append(wire_event(e)))
    assert [e["resumed_from_epoch"] for e in events if "resumed_from_epoch" in e] == [done]
    epochs = [e["epoch"] for e in events if e["type"] == "epoch"]
    assert epochs[0] > done and epochs[-1] == EPOCHS
    assert result.epochs_completed == EPOCHS
    history = json.loads(store.get_bytes("runs/text-killed/metrics.json"))["history"]
    assert [row["epoch"] for row in history] == list(range(1, EPOCHS + 1))
