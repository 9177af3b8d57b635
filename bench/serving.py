"""Serving under load: open-loop arrivals at fixed rates through the gateway, per model.

Starts the four services on embedded defaults in a temporary directory, trains each workload's
model through the platform (upload, run, token), then prints where a request's time goes at a low
rate (sequential, and at 10 req/s: an empty GET per service, the prediction straight to inference and
through the gateway), then, per arrival rate, sends requests at fixed intervals (open loop: a slow
answer does not delay the next send) to 127.0.0.1 only, for a bounded time and count, with the lean
client and precise clock of ``_load_generator.py``. Latency is measured from each request's *scheduled*
send time, so a generator that falls behind counts against the figure (no coordinated omission).
Prints p50/p99/max, the status of every answer that was not a 200, timeouts, and the highest rate held
with p99 <= 250 ms and no error but 503s; then the ONNX Runtime / eager PyTorch time ratio for the
same model on the same inputs.

    uv run python bench/serving.py [--seconds 10] [--rates 1,10,20,30,40,50,100] \
        [--workloads fasttext,minilm,image] [--ratio-images 40]"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import argparse
import asyncio
import csv
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from common.embedded import SERVICES, Stack
from common.settings import LOCAL_INTERNAL_TOKEN
from common.testing.ports import free_port

from bench._load_generator import Call, RateResult, RawHttpClient, open_loop, percentile, sequential_ms

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
P99_TARGET_MS = 250.0
NO_RATE_LIMITS = {
    "TRAINYARD_GATEWAY_KEY_RATE_LIMIT_PER_MINUTE": "0",
    "TRAINYARD_GATEWAY_IP_RATE_LIMIT_PER_MINUTE": "0",
}
HOP_RATE = 10.0


@dataclass(frozen=True)
class Workload:
    """A model trained through the platform and the requests that call it."""

    name: str
    dataset: Path
    run_body: dict[str, Any]
    request: Call
    path: str = "/api/predict"
    upload_fields: dict[str, str] = field(default_factory=dict)


def image_requests(zip_path: Path) -> Call:
    with zipfile.ZipFile(zip_path) as zf:
        images = [zf.read(n) for n in zf.namelist() if n.lower().endswith((".jpg", ".jpeg", ".png"))]
    return lambda i: (images[i % len(images)], {"content-type": "image/jpeg"})


def text_requests(csv_path: Path) -> Call:
    with csv_path.open(newline="") as f:
        bodies = [json.dumps({"text": row["text"]}).encode() for row in csv.DictReader(f)]
    return lambda i: (bodies[i % len(bodies)], {"content-type": "application/json"})


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


def with_token(call: Call, token: str) -> Call:
    def signed(i: int) -> tuple[bytes, dict[str, str]]:
        body, headers = call(i)
        return body, headers | {"authorization": f"Bearer {token}"}

    return signed


async def hops(stack: Stack, workload: Workload, call: Call, *, seconds: float) -> None:
    """Where the time goes at a low rate: sequential requests through the gateway vs straight to
    inference, then at HOP_RATE open loop: an empty GET /healthz on each service (the HTTP floor of one
    hop on an idle machine), the prediction straight to inference, and through the gateway."""
    gateway, inference = RawHttpClient(stack.gateway_url), RawHttpClient(stack.url("inference"))
    inner_path = workload.path.removeprefix("/api")
    try:
        await sequential_ms(gateway, workload.path, call, 20)  # warm connections and the model
        await sequential_ms(inference, inner_path, call, 20)
        via, straight = [], []
        for _ in range(5):
            via += await sequential_ms(gateway, workload.path, call, 20)
            straight += await sequential_ms(inference, inner_path, call, 20)
        print(
            f"sequential, {len(via)} each: via gateway p50 {statistics.median(via):.1f} ms, straight to "
            f"inference p50 {statistics.median(straight):.1f} ms: the gateway adds "
            f"{statistics.median(via) - statistics.median(straight):.1f} ms"
        )
        empty: Call = lambda i: (b"", {})  # noqa: E731
        p50 = {}
        for name, client, method, path, each in (
            ("inference GET /healthz", inference, "GET", "/healthz", empty),
            ("gateway GET /healthz", gateway, "GET", "/healthz", empty),
            ("straight to inference", inference, "POST", inner_path, call),
            ("through the gateway", gateway, "POST", workload.path, call),
        ):
            result = await open_loop(client, method, path, each, rate=HOP_RATE, seconds=seconds)
            if result.errors:
                raise NotMeasured(f"{name}: {result.line()}")
            p50[name] = result.p50
        print(
            f"at {HOP_RATE:.0f} req/s open loop, p50 ms: "
            + ", ".join(f"{name} {v:.2f}" for name, v in p50.items())
            + f"; the gateway adds {p50['through the gateway'] - p50['straight to inference']:.2f} ms"
        )
    except RuntimeError as e:
        raise NotMeasured(str(e)) from e
    finally:
        await gateway.aclose()
        await inference.aclose()


async def drive(stack: Stack, workload: Workload, token: str, *, rates: list[float], seconds: float):
    call = with_token(workload.request, token)
    await hops(stack, workload, call, seconds=min(seconds, 6.0))
    counted = inference_counts(stack)
    client = RawHttpClient(stack.gateway_url)
    results = []
    try:
        for rate in rates:
            result = await open_loop(client, "POST", workload.path, call, rate=rate, seconds=seconds)
            print(result.line(), flush=True)
            results.append(result)
            await asyncio.sleep(1.0)
    finally:
        await client.aclose()
    return results, counted


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
    model = ImageClassifier(
        built.stages,
        built.feature_dim,
        len(payload["classes"]),
        dropout=0.0,
        feature_norm=payload.get("feature_norm", "none"),
    )
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
                    try:
                        results, counted = asyncio.run(
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
