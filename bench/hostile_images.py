"""Peak resident memory of the dataset and inference services under the worst images they accept.

Starts the four services on embedded defaults (real uvicorn processes), then sends at once: 2 uploads of
a zip of the dataset's worst images (8-bit RGB at its 50 Mpx cap, RGBA, 16-bit grey, float TIFF at the
decode budget; 8 images, under 1 MB zipped) and 6 predictions of the inference service's worst
images (up to 62.4 Mpx, ~200 KB each). RSS is sampled from each process every 50 ms.

Baseline in the same run: the same load on a platform whose decode budget is effectively off
(64 GiB, 64 concurrent decodes), i.e. what the services did before the budget.

    uv run python bench/hostile_images.py
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import platform
import tempfile
from pathlib import Path

from common.embedded import SERVICES, Stack
from common.testing.ports import free_port

from tests.edge.hostile_images import MIB, RssSampler, run_hostile_load

UNBOUNDED = {
    "TRAINYARD_DATASET_DECODE_BUDGET_MIB": "65536",
    "TRAINYARD_DATASET_MAX_CONCURRENT_DECODES": "64",
    "TRAINYARD_INFERENCE_DECODE_BUDGET_MIB": "65536",
    "TRAINYARD_INFERENCE_MAX_CONCURRENT_DECODES": "64",
}


def measure(label: str, extra_env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(
            ports={s: free_port() for s in SERVICES}, data_dir=Path(tmp), log_dir=Path(tmp) / "logs"
        )
        try:
            stack.start(extra_env={"TRAINYARD_ENVIRONMENT": "test", **extra_env})
            sampler = RssSampler({name: stack.processes[name].pid for name in ("dataset", "inference")})
            before = {name: sampler.rss(name) for name in sampler.pids}
            load = run_hostile_load(stack)
            after = {
                name: sampler.settle(name, below=before[name] + 100 * MIB, timeout=15) for name in before
            }
        finally:
            stack.stop()
    print(f"{label}: {load.seconds:.1f} s; uploads {load.upload_status}, predictions {load.predict_status}")
    for name in before:
        print(
            f"  {name:9s} rest {before[name] / MIB:6.0f} MiB   peak {load.peak[name] / MIB:6.0f} MiB   "
            f"15 s after {after[name] / MIB:6.0f} MiB"
        )


def main() -> None:
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}"
    )
    measure("bounded (defaults: 512 MiB decode budget, 2 concurrent decodes)", {})
    measure("baseline (budget off: 64 GiB, 64 concurrent decodes)", UNBOUNDED)


if __name__ == "__main__":
    main()
