"""Validation throughput of the dataset service on a 1000-image zip (images/s).

Builds 1000 JPEGs from ../shared/data/flowers-5x100.zip: each of the 500 photos gives two variants
(a random crop, flip and colour jitter), upscaled to a typical web-photo size, in 10 classes of 100
(each flower split in two), then times:

- the validation core (``validate_image_archive``: read, decode fully, normalize, hash, dedupe, split,
  re-encode the pack), with 1 and 2 decode threads;
- the whole upload through the service's HTTP API in-process (multipart stream, SHA-256, validation,
  objects written to a LocalStore, row committed to SQLite).

    uv run python bench/dataset_validation.py [--size 640x480] [--repeats 3]
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import argparse
import asyncio
import io
import os
import platform
import statistics
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from common.store import LocalStore
from dataset.testing.app import make_settings, owner_headers, serve
from dataset.validation.image_dataset import validate_image_archive
from dataset.validation.limits import ValidationLimits
from PIL import Image, ImageEnhance, ImageOps

FLOWERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "flowers-5x100.zip"


def variant(image: Image.Image, *, rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = image.size
    crop = rng.uniform(0.75, 1.0)
    cw, ch = int(w * crop), int(h * crop)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = image.crop((x, y, x + cw, y + ch)).resize(size, Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
    out = ImageEnhance.Color(out).enhance(rng.uniform(0.7, 1.3))
    return ImageEnhance.Brightness(out).enhance(rng.uniform(0.8, 1.2))


def build_zip(*, size: tuple[int, int], seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(FLOWERS) as source, zipfile.ZipFile(buffer, "w") as out:
        names = sorted(n for n in source.namelist() if n.lower().endswith(".jpg"))
        for index, name in enumerate(names):
            flower = name.split("/")[-2]
            image = Image.open(io.BytesIO(source.read(name))).convert("RGB")
            for copy in range(2):
                half = "a" if (index % 2) == 0 else "b"
                data = io.BytesIO()
                variant(image, rng=rng, size=size).save(data, "JPEG", quality=90)
                out.writestr(f"photos/{flower}_{half}/{index:04d}_{copy}.jpg", data.getvalue())
    return buffer.getvalue()


def time_core(archive: Path, *, threads: int, repeats: int) -> tuple[float, int]:
    seconds, accepted = [], 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as work:
            started = time.perf_counter()
            result = validate_image_archive(
                archive_path=archive,
                work_dir=Path(work),
                limits=ValidationLimits(),
                val_fraction=0.2,
                seed=42,
                workers=threads,
            )
            seconds.append(time.perf_counter() - started)
            assert result.accepted, result.report.summary
            accepted = result.report.num_items
    return statistics.median(seconds), accepted


async def time_api(content: bytes, *, repeats: int) -> float:
    seconds = []
    for attempt in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            settings = make_settings(
                data_dir=Path(tmp), database_url=f"sqlite+aiosqlite:///{tmp}/dataset.db", log_level="WARNING"
            )
            async with serve(settings, store=LocalStore(Path(tmp) / "objects")) as client:
                started = time.perf_counter()
                response = await client.post(
                    "/datasets",
                    headers=owner_headers(),
                    files={"file": ("photos.zip", content)},
                    data={"seed": str(attempt)},
                )
                seconds.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text
    return statistics.median(seconds)


def cpu_model() -> str:
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="640x480", help="width x height of the generated photos")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))

    content = build_zip(size=size)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "photos.zip"
        archive.write_bytes(content)
        cores = len(os.sched_getaffinity(0))
        print(f"machine: {cpu_model()}, {cores} cores, Python {platform.python_version()}")
        megabytes = len(content) / 1e6
        print(
            f"zip: 1000 JPEG {args.size} q90 in 10 classes, {megabytes:.1f} MB; median of {args.repeats} runs"
        )
        for threads in (1, 2):
            seconds, accepted = time_core(archive, threads=threads, repeats=args.repeats)
            rate = 1000 / seconds
            print(
                f"validation core, {threads} thread(s): {seconds:.2f} s, {rate:.0f} images/s, {accepted} kept"
            )
        seconds = asyncio.run(time_api(content, repeats=args.repeats))
        rate = 1000 / seconds
        print(
            f"upload via API in-process (hash, validate, store, commit): {seconds:.2f} s, {rate:.0f} images/s"
        )


if __name__ == "__main__":
    main()
