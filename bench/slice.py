"""The walking skeleton on real data: seconds from upload to a ready model, and predict latency.

Starts the four services on embedded defaults in a temporary directory and waits until the trainer
has prepared its default backbone (what it does once per store, at its first start; meanwhile its
executor starts the warm worker an idle trainer keeps); then, on the
clock, uploads ../shared/data/flowers-5x100.zip through the gateway, trains with the default (quick)
recipe and waits for the ready model. Prints where the seconds went (the run's stored events), then
mints a token and predicts every image of the zip one request at a time.

    uv run python bench/slice.py [--zip PATH] [--requests N] [--keep DIR]
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import argparse
import json
import platform
import statistics
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path

import httpx
from common.contracts import INTERNAL_TOKEN_HEADER
from common.embedded import SERVICES, Stack
from common.settings import LOCAL_INTERNAL_TOKEN
from common.testing.ports import free_port

DEFAULT_ZIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "flowers-5x100.zip"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def wait_for_preparation(stack: Stack, *, within_s: float = 600) -> dict:
    """What the trainer prepares at its first start (the default backbone), once it is over."""
    deadline = time.monotonic() + within_s
    headers = {INTERNAL_TOKEN_HEADER: LOCAL_INTERNAL_TOKEN}
    while True:
        state = (
            httpx.get(f"{stack.url('trainer')}/admin/backbones", headers=headers).raise_for_status().json()
        )
        if state["ready"] or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def follow_run(api: httpx.Client, run_id: str) -> tuple[list[tuple[float, dict]], float]:
    """Follow the run's event stream, as the web app does, until it ends after the run's terminal
    state: ((stored at, epoch s; event) of each event, when the client had the terminal state)."""
    events, ended = [], 0.0
    with api.stream("GET", f"/api/runs/{run_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
                events.append((datetime.fromisoformat(data["at"]).timestamp(), data["event"]))
                if data["event"]["type"] == "state":
                    ended = time.perf_counter()
    return events, ended


def label(event: dict) -> str:
    kind = event["type"]
    if kind == "state":
        return f"state {event['status']}"
    if kind == "phase":
        return f"phase {event['phase']}"
    if kind == "log":
        return f"log: {event['message'][:70]}"
    if kind in ("epoch", "progress"):
        return ""
    return kind


def breakdown(events: list[tuple[float, dict]], *, start: float, ready: float) -> list[str]:
    """Seconds since the upload began at which each stored event happened (trainer clock, same host)."""
    lines, last = [], None
    for at, event in events:
        name = label(event)
        if name and name != last:
            lines.append(f"  {at - start:6.2f} s  {name}")
            last = name
    lines.append(f"  {ready - start:6.2f} s  the client has the terminal state on the run's event stream")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--keep", type=Path, help="an empty directory for the stack's data and logs, kept afterwards"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.keep or Path(tmp)
        if args.keep and args.keep.exists() and any(args.keep.iterdir()):
            parser.error(f"--keep {args.keep} is not empty: a fresh stack starts from nothing")
        stack = Stack(ports={s: free_port() for s in SERVICES}, data_dir=data_dir, log_dir=data_dir / "logs")
        stack.start()
        try:
            preparation = wait_for_preparation(stack)
            with httpx.Client(base_url=stack.gateway_url, timeout=600) as api:
                t0, wall0 = time.perf_counter(), time.time()
                upload = api.post(
                    "/api/datasets",
                    files={"file": (args.zip.name, args.zip.read_bytes())},
                    data={"name": "flowers"},
                )
                upload.raise_for_status()
                t_upload = time.perf_counter() - t0
                run = api.post("/api/runs", json={"dataset_id": upload.json()["id"]}).json()
                events, ended = follow_run(api, run["id"])
                t_ready = ended - t0
                run = api.get(f"/api/runs/{run['id']}").json()
                assert run["status"] == "succeeded", run
                trace = breakdown(events, start=wall0, ready=wall0 + t_ready)
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
    for b in preparation["backbones"]:
        took = f"{b['seconds']:.1f} s" if b["seconds"] is not None else "found"
        print(f"before the clock, at the trainer's first start: {b['backbone']} {b['state']} ({took})")
    print("before the clock: the trainer idle, its warm worker waiting (TRAINYARD_TRAINER_LOCAL_WARM_WORKER)")
    print(f"upload + validation: {t_upload:.1f} s")
    print(f"upload -> ready model: {t_ready:.1f} s (quick mode, default config)")
    print("where the seconds went (stored run events; phases from the worker, states from the trainer):")
    print("\n".join(trace))
    print(f"validation accuracy: {run['val_accuracy']:.3f}")
    print(
        f"predict latency over {len(latencies)} sequential requests through the gateway: "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 99):.1f} ms"
    )


if __name__ == "__main__":
    main()
