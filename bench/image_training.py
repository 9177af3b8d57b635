"""Image training methods on real data: accuracy, wall seconds and peak memory on the same split.

Builds a manifest + pack from flowers-5x100.zip (PIL decode, RGB, EXIF transpose, JPEG re-encode) with a
seeded stratified 80/20 split in a temporary LocalStore, then runs each method in its own process
(``torch.set_num_threads(--threads)``), timing the whole ``run_training`` call; each method starts from a
cold feature cache (its own copy of the store) except quick_warm:

    baseline   the seed projects' recipe: efficientnet_lite0 fully fine-tuned, SGD lr 0.01 momentum 0.9,
               StepLR(6, 0.1), 10 epochs, batch 16, image_size 224
    quick      our defaults (frozen backbone, cached features, linear head)
    quick_warm quick again on the same store: the feature cache is warm
    finetune   our finetune defaults (linear probe, then the network)

    uv run python bench/image_training.py [--zip PATH] [--threads 2] \
        [--methods baseline,quick,quick_warm,finetune]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

DEFAULT_ZIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "flowers-5x100.zip"
DATASET_ID = "flowers"
SEED = 0
VAL_FRACTION = 0.2
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

METHODS: dict[str, dict] = {
    "baseline": {
        "mode": "finetune",
        "probe_epochs": 0,
        "unfreeze_blocks": "all",
        "layer_lr_decay": 1.0,
        "optimizer": "sgd",
        "learning_rate": 0.01,
        "momentum": 0.9,
        "weight_decay": 0.0,
        "lr_schedule": {"name": "step_lr", "step_size": 6, "gamma": 0.1},
        "epochs": 10,
        "batch_size": 16,
        "image_size": 224,
        "label_smoothing": 0.0,
        "class_weighting": "none",
        "crop_scale_min": 0.08,
        "color_jitter": 0.0,
    },
    "quick": {},
    "quick_warm": {},
    "finetune": {"mode": "finetune"},
}


def build_store(zip_path: Path, root: Path) -> str:
    """Write the data set as the dataset service would; returns the manifest key."""
    from common.contracts import DatasetManifest, ManifestItem, manifest_key
    from common.store import LocalStore

    store = LocalStore(root)
    with zipfile.ZipFile(zip_path) as zf:
        names = sorted(n for n in zf.namelist() if n.lower().endswith(IMAGE_SUFFIXES))
        labelled = [(n.split("/")[-2], zf.read(n), n) for n in names]
    classes = sorted({label for label, _, _ in labelled})
    labels = np.asarray([classes.index(label) for label, _, _ in labelled])
    rng = np.random.default_rng(SEED)
    val = set()
    for c in range(len(classes)):
        members = rng.permutation(np.flatnonzero(labels == c))
        val.update(members[: round(len(members) * VAL_FRACTION)].tolist())
    pack, items = io.BytesIO(), []
    for i, (label, raw, name) in enumerate(labelled):
        with Image.open(io.BytesIO(raw)) as img:
            image = ImageOps.exif_transpose(img).convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=95)
        data = buffer.getvalue()
        items.append(
            ManifestItem(
                label=label,
                split="val" if i in val else "train",
                source=name,
                offset=pack.tell(),
                length=len(data),
                width=image.width,
                height=image.height,
            )
        )
        pack.write(data)
    store.put_bytes(f"datasets/{DATASET_ID}/pack.bin", pack.getvalue())
    manifest = DatasetManifest(
        dataset_id=DATASET_ID,
        kind="image",
        classes=classes,
        seed=SEED,
        val_fraction=VAL_FRACTION,
        pack_key=f"datasets/{DATASET_ID}/pack.bin",
        items=items,
    )
    store.put_bytes(manifest_key(DATASET_ID), manifest.model_dump_json().encode())
    return manifest_key(DATASET_ID)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def run_method(method: str, store_root: Path, threads: int, overrides: dict) -> dict:
    """Child process: one run_training call, timed, with its own peak RSS."""
    import torch
    from common.contracts import TrainingSpec, manifest_key
    from common.store import LocalStore
    from trainer.training import run_training

    torch.set_num_threads(threads)
    store = LocalStore(store_root)
    events: list[dict] = []
    config = {**METHODS[method], **overrides}
    spec = TrainingSpec(
        run_id=f"bench-{method}",
        owner="bench",
        dataset_id=DATASET_ID,
        manifest_key=manifest_key(DATASET_ID),
        output_prefix=f"runs/bench-{method}/",
        config=config,
    )
    started = time.perf_counter()
    result = run_training(spec, store=store, report=events.append)
    seconds = time.perf_counter() - started
    metrics = json.loads(store.get_bytes(result.artifacts["metrics.json"]))
    return {
        "method": method,
        "val_accuracy": result.val_accuracy,
        "seconds": seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average_1m": os.getloadavg()[0],
        "epochs": result.epochs_completed,
        "features_cached": any(e.get("phase") == "features" and e.get("cached") for e in events),
        "timings_s": metrics["timings_s"],
        "onnx_max_abs_logit_diff": result.onnx_max_abs_logit_diff,
        "config": config,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--methods", default="baseline,quick,quick_warm,finetune")
    parser.add_argument("--config", default="{}", help="JSON overrides applied to every method (tuning)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(run_method(args.child, args.store, args.threads, json.loads(args.config))))
        return

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        build_store(args.zip, Path(tmp) / "data")
        for method in args.methods.split(","):
            # Every method starts with a cold feature cache, except quick_warm, which reuses quick's.
            store_dir = Path(tmp) / ("quick" if method == "quick_warm" else method)
            if not store_dir.exists():
                shutil.copytree(Path(tmp) / "data", store_dir)
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    method,
                    "--store",
                    str(store_dir),
                    "--threads",
                    str(args.threads),
                    "--config",
                    args.config,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = results[-1]
            print(
                f"{r['method']:<11} acc {r['val_accuracy']:.3f}  {r['seconds']:7.1f} s  peak RSS "
                f"{r['peak_rss_mib']:6.0f} MiB  epochs {r['epochs']}  load {r['load_average_1m']:.1f}  "
                f"timings {r['timings_s']}",
                flush=True,
            )

    print(
        f"\nmachine: {cpu_model()}, {os.cpu_count()} cpus, threads {args.threads}, "
        f"python {platform.python_version()}"
    )
    by = {r["method"]: r for r in results}
    if "baseline" in by:
        base = by["baseline"]
        for method in ("quick", "finetune"):
            if method in by:
                r = by[method]
                print(
                    f"{method}: {base['seconds'] / r['seconds']:.1f}x faster than baseline, "
                    f"accuracy {r['val_accuracy'] - base['val_accuracy']:+.3f} vs baseline"
                )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
