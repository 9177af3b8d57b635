"""Serving under load: open-loop arrivals at fixed rates through the gateway, per model.

Starts the four services on embedded defaults in a temporary directory, trains each workload's
model through the platform (upload, run, token), then, per arrival rate, sends requests at fixed
intervals (open loop: a slow answer does not delay the next send) to 127.0.0.1 only, for a bounded
time and count. Latency is measured from each request's *scheduled* send time, so a generator that
falls behind counts against the figure (no coordinated omission). Prints p50/p99/max, the status of
every answer that was not a 200, timeouts, and the highest rate held with p99 <= 250 ms and no error
but 503s; then the ONNX Runtime / eager PyTorch time ratio for the same model on the same inputs.

    uv run python bench/serving.py [--seconds 10] [--rates 1,10,20,30,40,50,100] \
        [--workloads image] [--ratio-images 40]
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import argparse
import asyncio
import csv
import io
import os
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from common.embedded import SERVICES, Stack
from common.settings import LOCAL_INTERNAL_TOKEN
from common.testing.ports import free_port

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
P99_TARGET_MS = 250.0
NO_RATE_LIMITS = {
    "TRAINYARD_GATEWAY_KEY_RATE_LIMIT_PER_MINUTE": "0",
    "TRAINYARD_GATEWAY_IP_RATE_LIMIT_PER_MINUTE": "0",
}
REQUEST_TIMEOUT_S = 10.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Workload:
    """A model trained through the platform and the requests that call it."""

    name: str
    dataset: Path
    run_body: dict[str, Any]
    # i -> keyword arguments of httpx's post() for the i-th request (files= or json=).
    request: Callable[[int], dict[str, Any]]
    path: str = "/api/predict"
    upload_fields: dict[str, str] = field(default_factory=dict)


def image_requests(zip_path: Path) -> Callable[[int], dict[str, Any]]:
    with zipfile.ZipFile(zip_path) as zf:
        images = [zf.read(n) for n in zf.namelist() if n.lower().endswith((".jpg", ".jpeg", ".png"))]
    return lambda i: {"content": images[i % len(images)], "headers": {"content-type": "image/jpeg"}}


def text_requests(csv_path: Path) -> Callable[[int], dict[str, Any]]:
    with csv_path.open(newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    return lambda i: {"json": {"text": texts[i % len(texts)]}}


def workloads() -> dict[str, Workload]:
    flowers = DATA / "flowers-5x100.zip"
    trec = DATA / "trec-6.csv"
    return {
        "image": Workload(
            name="image: EfficientNet-Lite0, 224 px, quick (flowers-5x100)",
            dataset=flowers,
            run_body={"config": {"backbone": "efficientnet_lite0", "image_size": 224}},
            request=image_requests(flowers),
        ),
        **{
            model: Workload(
                name=f"text: {model} (trec-6)",
                dataset=trec,
                run_body={"task": "text", "config": {"model": model}},
                request=text_requests(trec),
            )
            for model in ("fasttext", "minilm")
        },
    }


class NotMeasured(Exception):
    """This workload cannot run on this platform build (e.g. its task is not served yet)."""


def train(api: httpx.Client, workload: Workload) -> tuple[dict, str]:
    """(finished run, model token)."""
    upload = api.post(
        "/api/datasets",
        files={"file": (workload.dataset.name, workload.dataset.read_bytes())},
        data={"name": workload.dataset.stem, **workload.upload_fields},
    )
    if upload.status_code >= 400:
        raise NotMeasured(f"upload refused: {upload.status_code} {upload.text[:300]}")
    run = api.post("/api/runs", json={"dataset_id": upload.json()["id"], **workload.run_body})
    if run.status_code >= 400:
        raise NotMeasured(f"run refused: {run.status_code} {run.text[:300]}")
    run = run.json()
    while run["status"] in ("queued", "running"):
        time.sleep(0.5)
        run = api.get(f"/api/runs/{run['id']}").json()
    if run["status"] != "succeeded":
        raise NotMeasured(f"training failed: {run.get('error')}")
    token = api.post(f"/api/models/{run['model_id']}/tokens")
    token.raise_for_status()
    return run, token.json()["token"]


@dataclass
class RateResult:
    rate: float
    sent: int
    latencies_ms: list[float]
    statuses: Counter
    timeouts: int
    other_errors: int
    max_send_lag_ms: float

    @property
    def errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s != 200) + self.timeouts + self.other_errors

    @property
    def only_503s(self) -> bool:
        return self.timeouts == 0 and self.other_errors == 0 and set(self.statuses) <= {200, 503}

    def line(self) -> str:
        lat = self.latencies_ms
        figures = (
            f"p50 {statistics.median(lat):7.1f}  p99 {percentile(lat, 99):7.1f}  max {max(lat):7.1f}"
            if lat
            else "no successful answer"
        )
        refused = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()) if s != 200) or "none"
        return (
            f"{self.rate:6.0f} req/s  n={self.sent:5d}  {figures} ms  errors {self.errors} ({refused}; "
            f"timeouts {self.timeouts}, transport {self.other_errors})  "
            f"send lag max {self.max_send_lag_ms:.0f} ms"
        )


async def open_loop(
    client: httpx.AsyncClient, workload: Workload, headers: dict[str, str], *, rate: float, seconds: float
) -> RateResult:
    count = max(1, min(int(rate * seconds), 2000))
    latencies: list[float] = []
    statuses: Counter = Counter()
    timeouts = other = 0
    lags: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int) -> None:
        nonlocal timeouts, other
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        lags.append((loop.time() - scheduled) * 1000)
        kwargs = workload.request(i)
        try:
            response = await client.post(
                workload.path,
                headers=headers | kwargs.pop("headers", {}),
                timeout=REQUEST_TIMEOUT_S,
                **kwargs,
            )
        except httpx.TimeoutException:
            timeouts += 1
            return
        except httpx.HTTPError:
            other += 1
            return
        statuses[response.status_code] += 1
        if response.status_code == 200:
            latencies.append((loop.time() - scheduled) * 1000)

    await asyncio.gather(*(one(i) for i in range(count)))
    return RateResult(rate, count, latencies, statuses, timeouts, other, max(lags))


async def sequential_ms(
    client: httpx.AsyncClient, path: str, workload: Workload, headers, n: int
) -> list[float]:
    times = []
    for i in range(n):
        kwargs = workload.request(i)
        start = time.perf_counter()
        response = await client.post(path, headers=headers | kwargs.pop("headers", {}), **kwargs)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise NotMeasured(f"POST {path} answered {response.status_code}: {response.text[:300]}")
    return times


async def drive(stack: Stack, workload: Workload, token: str, *, rates: list[float], seconds: float):
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    async with (
        httpx.AsyncClient(base_url=stack.gateway_url, limits=limits) as client,
        httpx.AsyncClient(base_url=stack.url("inference")) as direct,
    ):
        await sequential_ms(client, workload.path, workload, headers, 20)  # warm connections and the model
        # What the gateway adds: the same requests one at a time, through it and straight to inference.
        inner_path = workload.path.removeprefix("/api")
        via, straight = [], []
        for _ in range(5):
            via += await sequential_ms(client, workload.path, workload, headers, 20)
            straight += await sequential_ms(direct, inner_path, workload, headers, 20)
        print(
            f"sequential, {len(via)} each: via gateway p50 {statistics.median(via):.1f} ms, straight to "
            f"inference p50 {statistics.median(straight):.1f} ms: the gateway adds "
            f"{statistics.median(via) - statistics.median(straight):.1f} ms"
        )
        results = []
        for rate in rates:
            result = await open_loop(client, workload, headers, rate=rate, seconds=seconds)
            print(result.line(), flush=True)
            results.append(result)
            await asyncio.sleep(1.0)
        return results


def inference_counts(stack: Stack) -> tuple[float, float, float]:
    """(rows, model runs, refusals) so far, as the inference service counted them (its /metrics)."""
    text = httpx.get(
        f"{stack.url('inference')}/metrics", headers={"Authorization": f"Bearer {LOCAL_INTERNAL_TOKEN}"}
    ).text
    values = {}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name and not line.startswith("#"):
            values[name] = float(value)
    refused = sum(v for k, v in values.items() if k.startswith("trainyard_inference_rejected_requests_total"))
    return (
        values.get("trainyard_inference_batch_rows_sum", 0.0),
        values.get("trainyard_inference_batch_rows_count", 0.0),
        refused,
    )


def held(results: list[RateResult]) -> float | None:
    """Highest rate whose successful answers had p99 <= target and whose only errors were 503s."""
    good = [
        r.rate
        for r in results
        if r.latencies_ms and percentile(r.latencies_ms, 99) <= P99_TARGET_MS and r.errors == 0
    ]
    return max(good) if good else None


def image_ratio(api: httpx.Client, run: dict, *, images: int, threads: int) -> str:
    """Median single-image latency of the run's model.onnx on ONNX Runtime vs its model.pt in eager
    PyTorch, on the same preprocessed inputs, with the same thread count."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from common.contracts import ModelCard
    from common.imaging import Preprocessing, preprocess
    from PIL import Image

    try:
        from trainer.training.image.models import BUILDERS, ImageClassifier
    except ImportError:  # before the training core was split by task
        from trainer.training.models import BUILDERS, ImageClassifier

    def artifact(name: str) -> bytes:
        response = api.get(f"/api/runs/{run['id']}/artifacts/{name}")
        if response.status_code != 200:
            listing = api.get(f"/api/runs/{run['id']}/artifacts").text[:400]
            raise NotMeasured(
                f"artifact {name}: {response.status_code} {response.text[:200]}; run has {listing}"
            )
        return response.content

    onnx_bytes = artifact("model.onnx")
    payload = torch.load(io.BytesIO(artifact("model.pt")), weights_only=True)
    card = ModelCard.model_validate_json(artifact("model_card.json"))
    spec = Preprocessing.from_card(card)
    built = BUILDERS[payload["backbone"]](None)
    model = ImageClassifier(built.stages, built.feature_dim, len(payload["classes"]), dropout=0.0)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    with zipfile.ZipFile(DATA / "flowers-5x100.zip") as zf:
        names = [n for n in zf.namelist() if n.lower().endswith((".jpg", ".jpeg", ".png"))][:images]
        inputs = [
            preprocess(Image.open(io.BytesIO(zf.read(n))).convert("RGB"), spec)[np.newaxis] for n in names
        ]
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    torch.set_num_threads(threads)

    def run_eager(x):
        return model(torch.from_numpy(x)).numpy()

    def run_ort(x):
        return session.run(None, {input_name: x})[0]

    # Interleaved per input, so both see the same machine (other load comes and goes).
    eager_ms, ort_ms, diff = [], [], 0.0
    with torch.inference_mode():
        for x in inputs[:3]:
            run_eager(x), run_ort(x)
        for x in inputs:
            t0 = time.perf_counter()
            want = run_eager(x)
            t1 = time.perf_counter()
            got = run_ort(x)
            t2 = time.perf_counter()
            eager_ms.append((t1 - t0) * 1000)
            ort_ms.append((t2 - t1) * 1000)
            diff = max(diff, float(np.abs(got - want).max()))
    eager, ort_ms = statistics.median(eager_ms), statistics.median(ort_ms)
    return (
        f"single image, {threads} threads, median of {len(inputs)}: ONNX Runtime {ort_ms:.1f} ms, eager "
        f"PyTorch {eager:.1f} ms, ratio ORT/eager {ort_ms / eager:.2f} (max |logit diff| {diff:.1e})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each rate")
    parser.add_argument("--rates", default="1,10,20,30,40,50,100")
    # Text first: its models train in seconds, so their figures come out early.
    parser.add_argument("--workloads", default="fasttext,minilm,image")
    parser.add_argument("--ratio-images", type=int, default=40)
    parser.add_argument("--no-ratio", action="store_true")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    chosen = [workloads()[name] for name in args.workloads.split(",")]
    threads = len(os.sched_getaffinity(0))

    print(
        f"machine: {platform.processor() or platform.machine()}, {threads} cores, "
        f"python {sys.version.split()[0]}"
    )
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(
            ports={s: free_port() for s in SERVICES}, data_dir=Path(tmp), log_dir=Path(tmp) / "logs"
        )
        # The gateway's per-client rate limits are a policy for one noisy client; this bench measures what
        # the platform can serve, from one client address and one token, so it turns them off.
        stack.start(extra_env=NO_RATE_LIMITS)
        try:
            with httpx.Client(base_url=stack.gateway_url, timeout=600) as api:
                for workload in chosen:
                    t0 = time.perf_counter()
                    try:
                        run, token = train(api, workload)
                    except NotMeasured as e:
                        print(f"\n{workload.name}: not measured: {e}")
                        continue
                    print(
                        f"\n{workload.name}: trained in {time.perf_counter() - t0:.0f} s "
                        f"(val accuracy {run.get('val_accuracy')})"
                    )
                    counted = inference_counts(stack)
                    try:
                        results = asyncio.run(
                            drive(stack, workload, token, rates=rates, seconds=args.seconds)
                        )
                    except NotMeasured as e:
                        print(f"not measured: {e}")
                        continue
                    rows, runs, refused = (
                        now - before for now, before in zip(inference_counts(stack), counted, strict=True)
                    )
                    print(
                        f"inference counted: {rows:.0f} rows in {runs:.0f} model runs "
                        f"({rows / max(runs, 1):.2f} rows per run), {refused:.0f} refused by admission"
                    )
                    best = held(results)
                    print(
                        f"highest rate held with p99 <= {P99_TARGET_MS:.0f} ms and 0 errors: "
                        f"{best if best is not None else 'none'} req/s"
                    )
                    above = [r for r in results if best is not None and r.rate > best]
                    if above:
                        print("above it, only 503s: " + ("yes" if all(r.only_503s for r in above) else "NO"))
                    if workload.dataset.suffix == ".zip" and not args.no_ratio:
                        try:
                            print(image_ratio(api, run, images=args.ratio_images, threads=threads))
                        except Exception as e:  # a figure missing must not lose the text workloads' figures
                            print(f"ORT/eager ratio not measured: {type(e).__name__}: {e}")
        finally:
            stack.stop()
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
