"""Server memory stays bounded: the bombs go to a real uvicorn process and we read its peak RSS."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from common.testing.ports import free_port
from dataset.testing import corpus
from dataset.testing.app import INTERNAL_TOKEN, owner_headers

# Growth of the peak RSS allowed over the warmed-up service. The bombs would need about 1 GB (pixel
# bomb), 200 MB (ratio bomb) and 150 MB (large body) if anything held them in memory.
MAX_PEAK_GROWTH_MB = 120


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


@pytest.fixture
def service(tmp_path) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    env = {
        **os.environ,
        "TRAINYARD_DATA_DIR": str(tmp_path),
        "TRAINYARD_INTERNAL_TOKEN": INTERNAL_TOKEN,
        "TRAINYARD_ENVIRONMENT": "test",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "dataset.main:create_app", "--factory", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, url)
        yield process, url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_ready(process: subprocess.Popen, url: str) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the dataset service exited during start-up"
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError("the dataset service did not become ready")


def test_bombs_do_not_grow_the_servers_peak_memory(service):
    process, url = service
    with httpx.Client(base_url=url, headers=owner_headers(), timeout=300) as api:

        def upload(name: str, content: bytes) -> httpx.Response:
            return api.post("/datasets", files={"file": (name, content)})

        # Warm up: imports, the first decode and the database connection count as baseline.
        assert upload("warm.zip", corpus.image_zip()).status_code == 201
        baseline = peak_rss_mb(process.pid)

        ratio_bomb = upload("bomb.zip", corpus.ratio_bomb_zip(decompressed_mib=200))
        pixel_bomb = upload(
            "pixels.zip", corpus.image_zip(extra=[("cats/bomb.png", corpus.pixel_bomb_png())])
        )
        entries = upload("entries.zip", corpus.many_entries_zip(100_000))
        large = upload("large.csv", os.urandom(150 * 1024 * 1024))

    growth = peak_rss_mb(process.pid) - baseline
    assert growth < MAX_PEAK_GROWTH_MB, f"peak RSS grew by {growth:.0f} MB (baseline {baseline:.0f} MB)"
    assert ratio_bomb.status_code == 422
    assert ratio_bomb.json()["error"]["detail"]["report"]["rejected_rule"] == "zip_ratio_exceeded"
    assert pixel_bomb.status_code == 201
    assert pixel_bomb.json()["report"]["problem_counts"]["too_many_pixels"] == 1
    assert entries.status_code == 422
    assert large.status_code == 422
