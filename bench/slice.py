"""The walking skeleton on real data: seconds from upload to a ready model, and predict latency.

Starts the four services on embedded defaults in a temporary directory, uploads
../shared/data/flowers-5x100.zip through the gateway, trains with the default (quick) recipe,
mints a token and predicts every image of the zip one request at a time.

    uv run python bench/slice.py [--zip PATH] [--requests N]
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import argparse
import platform
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import httpx
from common.embedded import SERVICES, Stack
from common.testing.ports import free_port

DEFAULT_ZIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "flowers-5x100.zip"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(
            ports={s: free_port() for s in SERVICES}, data_dir=Path(tmp), log_dir=Path(tmp) / "logs"
        )
        stack.start()
        try:
            with httpx.Client(base_url=stack.gateway_url, timeout=600) as api:
                t0 = time.perf_counter()
                upload = api.post(
                    "/api/datasets",
                    files={"file": (args.zip.name, args.zip.read_bytes())},
                    data={"name": "flowers"},
                )
                upload.raise_for_status()
                t_upload = time.perf_counter() - t0
                run = api.post("/api/runs", json={"dataset_id": upload.json()["id"]}).json()
                while run["status"] in ("queued", "running"):
                    time.sleep(0.25)
                    run = api.get(f"/api/runs/{run['id']}").json()
                t_ready = time.perf_counter() - t0
                assert run["status"] == "succeeded", run
                token = api.post(f"/api/models/{run['model_id']}/tokens").json()["token"]
                headers = {"Authorization": f"Bearer {token}"}

                with zipfile.ZipFile(args.zip) as zf:
                    images = [
                        zf.read(n) for n in zf.namelist() if n.lower().endswith((".jpg", ".jpeg", ".png"))
                    ]
                latencies = []
                for i in range(args.requests):
                    image = images[i % len(images)]
                    start = time.perf_counter()
                    response = api.post(
                        "/api/predict", files={"file": ("x.jpg", image, "image/jpeg")}, headers=headers
                    )
                    latencies.append((time.perf_counter() - start) * 1000)
                    response.raise_for_status()
        finally:
            stack.stop()

    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"data set: {args.zip.name}")
    print(f"upload + validation: {t_upload:.1f} s")
    print(f"upload -> ready model: {t_ready:.1f} s (quick mode, default config)")
    print(f"validation accuracy: {run['val_accuracy']:.3f}")
    print(
        f"predict latency over {len(latencies)} sequential requests through the gateway: "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 99):.1f} ms"
    )


if __name__ == "__main__":
    main()
