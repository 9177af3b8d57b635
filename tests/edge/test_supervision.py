"""``make up``'s launcher heals: each service, killed in turn while a run trains, is back within 10 s,
the run still ends exactly once, and only the launcher's own stop ends everything (nothing left behind).

Runs ``python -m common.embedded`` (what ``make up`` runs) as a real process tree.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from common.embedded import SERVICES

from tests.e2e.images import image_zip

pytestmark = pytest.mark.e2e

RESTART_WITHIN_S = 10.0


def restart_bound(cold_start_s: float) -> float:
    """10 s, or on a machine so loaded that the service's own first start took longer than that, the
    time that start took (measured in the same run) plus a second for the supervisor to notice."""
    return max(RESTART_WITHIN_S, cold_start_s + 1.0)


def four_free_ports() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + 3 > 65535:
            continue
        try:
            for offset in range(1, 4):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue


def service_pid(launcher: psutil.Process, name: str) -> int | None:
    for child in launcher.children():
        try:
            if f"{name}.main:create_app" in " ".join(child.cmdline()):
                return child.pid
        except psutil.NoSuchProcess:
            continue
    return None


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait(predicate, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what} after {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - start


def test_each_killed_service_is_back_within_10s_and_a_run_ends_once(tmp_path: Path):
    base = four_free_ports()
    urls = {name: f"http://127.0.0.1:{base + i}" for i, name in enumerate(("gateway", *SERVICES[:3]))}
    launcher_log = (tmp_path / "launcher.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "common.embedded", "--data-dir", str(tmp_path / "data"), "--port", str(base)],
        stdout=launcher_log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TRAINYARD_LOG_JSON": "true"},
    )
    launcher = psutil.Process(process.pid)
    started = time.monotonic()
    cold_start: dict[str, float] = {}
    try:

        def all_ready() -> bool:
            for name, url in urls.items():
                if name not in cold_start and ready(url):
                    cold_start[name] = time.monotonic() - started
            return len(cold_start) == len(urls)

        wait(all_ready, 180, "the platform did not start")
        api = httpx.Client(base_url=urls["gateway"], timeout=120)
        upload = api.post("/api/datasets", files={"file": ("c.zip", image_zip())}, data={"name": "c"})
        assert upload.status_code == 201, upload.text
        run = api.post("/api/runs", json={"dataset_id": upload.json()["id"]}).json()
        wait(lambda: api.get(f"/api/runs/{run['id']}").json()["status"] == "running", 120, "never ran")

        for name in ("trainer", "dataset", "inference", "gateway"):
            pid = service_pid(launcher, name)
            assert pid is not None, name
            os.kill(pid, signal.SIGKILL)
            back_in = wait(
                lambda n=name, p=pid: service_pid(launcher, n) not in (None, p) and ready(urls[n]),
                restart_bound(cold_start[name]),
                f"{name} was not back (its first start took {cold_start[name]:.1f} s)",
            )
            print(f"{name} back in {back_in:.1f} s (first start {cold_start[name]:.1f} s)")
        api.close()
        api = httpx.Client(base_url=urls["gateway"], timeout=120)

        def finished() -> bool:
            return api.get(f"/api/runs/{run['id']}").json()["status"] in ("succeeded", "failed", "cancelled")

        wait(finished, 420, "the run did not end")
        final = api.get(f"/api/runs/{run['id']}").json()
        assert final["status"] == "succeeded", final
        assert final["attempts"] >= 2, "the trainer was killed mid-run: the run must have been resumed"
        models = [m for m in api.get("/api/models").json()["items"] if m["run_id"] == run["id"]]
        assert [m["id"] for m in models] == [final["model_id"]]  # registered once
        api.close()
        log = (tmp_path / "launcher.log").read_text()
        assert "trainer: was killed by SIGKILL" in log
        assert "restarting in" in log
    finally:
        descendants = launcher.children(recursive=True)
        process.send_signal(signal.SIGINT)  # Ctrl-C: the only way to stop everything
        process.wait(60)
        launcher_log.close()
    assert process.returncode == 0
    gone, alive = psutil.wait_procs(descendants, timeout=10)
    assert alive == [], f"left running after the launcher stopped: {alive}"
