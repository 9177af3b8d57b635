"""The recipe under torchrun with 2 CPU processes (gloo): trains, checkpoints, is killed, resumes.

The test's HTTP endpoint receives rank 0's progress events. When epoch 2's event arrives (sent after
epoch 2's checkpoint is in the store) it SIGKILLs the whole torchrun process group before answering:
a pod lost mid-run. A second torchrun with the same config must continue at epoch 3.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest
import torch
from common.store import LocalStore
from trainer.imagenet.checkpoint import checkpoint_key
from trainer.imagenet.config import ImageNetTrainConfig
from trainer.imagenet.miniature import write_miniature
from trainer.imagenet.prepare import PrepareConfig, prepare

TOKEN = "ddp-test-run-token"  # the attempt's own credential (never the internal token)


def kill_tree(pid: int) -> None:
    """SIGKILL torchrun and every process under it (its workers run in their own sessions)."""
    root = psutil.Process(pid)
    for process in [*root.children(recursive=True), root]:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)


class EventSink:
    """Collects events; optionally kills a process group on the first event matching ``kill_on``."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.headers: list[str | None] = []
        self.kill_on: tuple[str, int] | None = None
        self.process: subprocess.Popen | None = None
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                sink.events.append(event)
                sink.headers.append(self.headers.get("Authorization", "").removeprefix("Bearer "))
                if sink.kill_on and (event.get("type"), event.get("epoch")) == sink.kill_on:
                    kill_tree(sink.process.pid)
                    sink.kill_on = None
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/events"


@pytest.fixture
def prepared(tmp_path):
    mini = write_miniature(tmp_path / "raw", classes=4, train_per_class=8, val_per_class=3)
    out = tmp_path / "imagenet"
    prepare(
        PrepareConfig.model_validate(
            {
                "train_tar": {"path": mini.train_tar},
                "val_tar": {"path": mini.val_tar},
                "devkit": {"loc_val_solution": {"path": mini.loc_val_solution}},
                "output_dir": out,
                "expected": {"classes": 4, "train": 32, "val": 12},
            }
        )
    )
    return out


def torchrun(config: ImageNetTrainConfig, store_root, report_url: str, *extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "TRAINYARD_STORE_ROOT": str(store_root),
        "TRAINYARD_RUN_TOKEN": TOKEN,
        "OMP_NUM_THREADS": "1",
    }
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "trainer.imagenet.train", "--config-json", config.model_dump_json(), "--report-url", report_url,
        *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )


def test_ddp_on_two_cpu_processes_resumes_after_a_kill_with_the_epoch_count_continued(prepared, tmp_path):
    config = ImageNetTrainConfig(
        data_dir=prepared,
        output_prefix="runs/imagenet-ddp/",
        arch="resnet_tiny",
        schedule="fast",
        epochs=3,
        warmup_epochs=1,
        batch_size=4,
        lr_per_256=1.0,
        min_res=32,
        max_res=48,
        ramp_epochs=(0.3, 0.7),
        eval_res=48,
        workers=0,
        target_top1=None,
    )
    store = LocalStore(tmp_path / "store")
    sink = EventSink()
    sink.kill_on = ("imagenet_epoch", 2)
    sink.process = torchrun(config, store.root, sink.url)
    output = sink.process.communicate(timeout=120)[0].decode()
    assert sink.process.returncode == -signal.SIGKILL, output[-3000:]

    first = [e for e in sink.events if e["type"] == "imagenet_epoch"]
    assert [e["epoch"] for e in first] == [1, 2]
    assert all(e["world_size"] == 2 and e["val_images"] == 12 for e in first)  # all of val, once
    assert set(sink.headers) == {TOKEN}
    saved = torch.load(io.BytesIO(store.get_bytes(checkpoint_key(config))), weights_only=True)
    assert saved["epoch"] == 2

    sink.events.clear()
    sink.process = torchrun(config, store.root, sink.url)
    output = sink.process.communicate(timeout=120)[0].decode()
    assert sink.process.returncode == 0, output[-3000:]

    phases = [e for e in sink.events if e["type"] == "phase"]
    assert phases[0]["resumed_from_epoch"] == 2
    assert [e["epoch"] for e in sink.events if e["type"] == "imagenet_epoch"] == [3]
    assert sink.events[-1]["type"] == "succeeded" and sink.events[-1]["result"]["epochs_run"] == 3
    final = torch.load(io.BytesIO(store.get_bytes(checkpoint_key(config))), weights_only=True)
    assert final["epoch"] == 3 and [row["epoch"] for row in final["history"]] == [1, 2, 3]
    assert final["history"][2]["res"] == 48  # progressive resizing reached max_res
