"""The worst images the services accept, sent concurrently, with each service's resident memory sampled
from its real process. Used by tests/edge/test_hostile_images.py and bench/hostile_images.py.

"Worst allowed": for each source mode, the largest image whose decode cost (common.decode_budget) still
fits a service's default budget and pixel cap. Each is a few hundred KB on the wire (solid colours
compress well) and half a gigabyte once decoded.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import psutil
from common.contracts import INTERNAL_TOKEN_HEADER, OWNER_HEADER
from common.embedded import Stack
from common.settings import LOCAL_INTERNAL_TOKEN
from common.store import LocalStore
from PIL import Image

MIB = 1024 * 1024


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def worst_images(*, max_side_rgb: int) -> dict[str, bytes]:
    """name -> bytes: 8-bit RGB at the pixel cap, RGBA, 16-bit grey and float TIFF at the decode budget."""
    return {
        "rgb.png": _encode(Image.new("RGB", (max_side_rgb, max_side_rgb), (200, 30, 30)), "PNG"),
        "rgba.png": _encode(Image.new("RGBA", (4700, 4700), (30, 200, 30, 128)), "PNG"),
        "grey16.png": _encode(Image.new("I;16", (4000, 4000), 30000), "PNG"),
        "float.tif": _encode(Image.new("F", (3300, 3300), 0.5), "TIFF", compression="tiff_deflate"),
    }


@dataclass
class RssSampler:
    """Samples the RSS of each named process (and its children) every ``interval`` seconds."""

    pids: dict[str, int]
    interval: float = 0.05
    peak: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def rss(self, name: str) -> int:
        process = psutil.Process(self.pids[name])
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            for name in self.pids:
                self.peak[name] = max(self.peak.get(name, 0), self.rss(name))
            time.sleep(self.interval)

    @contextmanager
    def sampling(self) -> Iterator[RssSampler]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()

    def settle(self, name: str, *, below: int, timeout: float = 20.0) -> int:
        """Waits until the process's RSS is below ``below``; returns the last reading."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.rss(name)
            if current < below or time.monotonic() > deadline:
                return current
            time.sleep(0.2)


def hostile_zip(images: dict[str, bytes], *, copies: int = 1) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for c, klass in enumerate(("a", "b")):
            for i in range(copies):
                for name, data in images.items():
                    zf.writestr(f"{klass}/{c}{i}-{name}", data)
    return buffer.getvalue()


def model_token(stack: Stack) -> str:
    """A tiny ONNX model registered straight with the inference service, and a token for it."""
    from inference.testing import write_artifacts  # the test helper: needs the onnx dev dependency

    body = write_artifacts(LocalStore(stack.data_dir / "objects"), run_id="hostile-images")
    headers = {INTERNAL_TOKEN_HEADER: LOCAL_INTERNAL_TOKEN, OWNER_HEADER: "hostile"}
    with httpx.Client(base_url=stack.url("inference"), headers=headers, timeout=60) as client:
        model = client.post("/models", json=body.model_dump())
        assert model.status_code in (200, 201), model.text
        token = client.post(f"/models/{model.json()['id']}/tokens")
        assert token.status_code == 201, token.text
        return token.json()["token"]


@dataclass
class HostileLoad:
    upload_status: list[int]
    predict_status: list[int]
    peak: dict[str, int]
    seconds: float


def run_hostile_load(stack: Stack, *, uploads: int = 2, predictions: int = 6) -> HostileLoad:
    """``uploads`` zips of the dataset's worst images and ``predictions`` single worst images, all at once,
    through the gateway; peak RSS of the dataset and inference processes."""
    dataset_images = worst_images(max_side_rgb=7000)  # 49 Mpx: the dataset's 50 Mpx cap
    predict_images = list(worst_images(max_side_rgb=7900).items())  # 62.4 Mpx: inference's 64 Mpx cap
    archive = hostile_zip(dataset_images)
    token = model_token(stack)
    sampler = RssSampler({name: stack.processes[name].pid for name in ("dataset", "inference")})
    start = time.monotonic()
    with httpx.Client(base_url=stack.gateway_url, timeout=300) as client, sampler.sampling():

        def upload(i: int) -> int:
            files = {"file": (f"hostile-{i}.zip", archive)}
            return client.post(
                "/api/datasets", files=files, data={"name": f"hostile {i}", "seed": str(i)}
            ).status_code

        def predict(i: int) -> int:
            name, data = predict_images[i % len(predict_images)]
            files = {"file": (name, data)}
            headers = {"Authorization": f"Bearer {token}"}
            response = client.post("/api/predict", files=files, headers=headers)
            if response.status_code >= 500:
                print(f"predict {i}: {response.status_code} {response.text[:500]}")
            return response.status_code

        with ThreadPoolExecutor(uploads + predictions) as pool:
            upload_futures = [pool.submit(upload, i) for i in range(uploads)]
            predict_futures = [pool.submit(predict, i) for i in range(predictions)]
            upload_status = [f.result() for f in upload_futures]
            predict_status = [f.result() for f in predict_futures]
    return HostileLoad(upload_status, predict_status, dict(sampler.peak), time.monotonic() - start)
