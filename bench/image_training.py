"""Image training methods on real data, in one run: accuracy and seconds on one seeded split.

The zip goes through the dataset service's own validation (decode, orient, downscale to the stored
copy, seeded stratified 80/20 split) into a temporary LocalStore; every method then runs in its own
process on that split, timed by this script from process start to exit (imports included), with
the run's own phase timings beside it. Each method starts from a cold cache (its own copy of the
store: no features, no exported backbone) except quick_warm, which reuses quick's store:

    baseline    the seed projects' recipe: efficientnet_lite0 fully fine-tuned, SGD lr 0.01 momentum
                0.9, StepLR(6, 0.1), 10 epochs, batch 16, image_size 224
    plain_probe a linear probe as a user would write it (bench/plain_linear_probe.py): timm in eager
                PyTorch, one centre crop, batch 32, scikit-learn LogisticRegression
    quick       our defaults (frozen backbone, cached features, linear head), with the backbone prepared
                once per install (``python -m trainer.training.prepare``: its ONNX graph and state dict in
                the store, timed and printed apart): no features cached, no torch in the process
    quick_cold  quick with nothing prepared: the run imports torch and exports the backbone itself
                (what the first quick run of a backbone costs where nobody prepared it)
    quick_warm  quick again on quick's store: features cached too
    finetune    our finetune defaults (the quick probe, then the last blocks)

    uv run python bench/image_training.py [--zip PATH] [--threads 2] \
        [--methods baseline,plain_probe,quick,quick_warm,finetune] [--workdir DIR]

To run methods in separate calls (one quiet slot each, or one method again after a change) on the
same split, ``--workdir DIR`` keeps the validated split and each method's result in DIR: the first
call builds the split, later calls reuse it (every method still starts from a cold copy of it), and
each call prints the table of every result in DIR so far:

    uv run python bench/image_training.py --workdir /tmp/flowers-bench --methods baseline
    uv run python bench/image_training.py --workdir /tmp/flowers-bench --methods plain_probe,quick,finetune
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_ZIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "flowers-5x100.zip"
DATASET_ID = "flowers"
SEED = 0
VAL_FRACTION = 0.2

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
        "freeze_bn_stats": False,
        "feature_norm": "none",
    },
    "quick": {},
    "quick_cold": {},
    "quick_warm": {},
    "finetune": {"mode": "finetune"},
}
PLAIN_PROBE = Path(__file__).with_name("plain_linear_probe.py")


def build_store(zip_path: Path, root: Path) -> list[dict]:
    """Validate the zip as the dataset service does and store it; returns the manifest's items."""
    from common.contracts import DatasetManifest, manifest_key
    from common.store import LocalStore
    from dataset.validation.image_dataset import validate_image_archive
    from dataset.validation.limits import ValidationLimits

    root.mkdir(parents=True)
    result = validate_image_archive(
        archive_path=zip_path, work_dir=root, limits=ValidationLimits(), val_fraction=VAL_FRACTION, seed=SEED
    )
    assert result.accepted and result.pack_path is not None, result.report.summary
    store = LocalStore(root)
    pack_key = f"datasets/{DATASET_ID}/pack.bin"
    store.put_bytes(pack_key, result.pack_path.read_bytes())
    result.pack_path.unlink()
    manifest = DatasetManifest(
        dataset_id=DATASET_ID,
        kind="image",
        classes=result.classes,
        seed=SEED,
        val_fraction=VAL_FRACTION,
        pack_key=pack_key,
        items=result.items,
    )
    store.put_bytes(manifest_key(DATASET_ID), manifest.model_dump_json().encode())
    return [item.model_dump() for item in result.items]


def write_split(items: list[dict], path: Path) -> None:
    """The same split for the plain probe: zip entry names and class indices."""
    classes = sorted({item["label"] for item in items})
    split: dict[str, list] = {"train": [], "val": []}
    for item in items:
        split[item["split"]].append([item["source"], classes.index(item["label"])])
    path.write_text(json.dumps(split))


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def run_method(method: str, store_root: Path, threads: int, overrides: dict) -> dict:
    """Child process: one run_training call, timed, with its own peak RSS."""
    from common.contracts import TrainingSpec, manifest_key
    from common.events import wire_event
    from common.store import LocalStore
    from trainer.training import run_training

    if METHODS[method].get("mode") == "finetune":  # the quick path on CPU imports no torch
        import torch

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
    result = run_training(spec, store=store, report=lambda e: events.append(wire_event(e)))
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
        "data_issues": metrics.get("data_issues"),
        "flagged": _flagged(store, result.artifacts.get("data_issues.json")),
        "onnx_max_abs_logit_diff": result.onnx_max_abs_logit_diff,
        "config": config,
    }


def prepare(store_dir: Path) -> float:
    """``python -m trainer.training.prepare`` on the store: seconds from process start."""
    env = {**os.environ, "TRAINYARD_STORE_BACKEND": "local", "TRAINYARD_STORE_ROOT": str(store_dir)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "trainer.training.prepare"], check=True, env=env, capture_output=True
    )
    return time.perf_counter() - started


def run_child(command: list[str]) -> tuple[dict, float]:
    started = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def _flagged(store, key: str | None) -> list[str]:
    """The flagged files, as 'kind: source (label -> looks like)', for a person to check."""
    if key is None:
        return []
    issues = json.loads(store.get_bytes(key))["issues"]
    return [f"{i['kind']}: {i['source']} ({i['label']} -> {i['looks_like']})" for i in issues]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--methods", default="baseline,plain_probe,quick,quick_cold,quick_warm,finetune")
    parser.add_argument("--config", default="{}", help="JSON overrides applied to every method (tuning)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--workdir", type=Path, help="keep the split and the results here, to run methods in separate calls"
    )
    args = parser.parse_args()

    if args.child:
        print(json.dumps(run_method(args.child, args.store, args.threads, json.loads(args.config))))
        return

    if args.workdir is None:
        with tempfile.TemporaryDirectory() as tmp:
            run_methods(args, Path(tmp))
    else:
        run_methods(args, args.workdir)


def run_methods(args: argparse.Namespace, work: Path) -> None:
    """Each method on the split in ``work`` (built on first use); results accumulate in results.json."""
    if not (work / "split.json").exists():
        shutil.rmtree(work / "data", ignore_errors=True)
        items = build_store(args.zip, work / "data")
        (work / "items.json").write_text(json.dumps({"zip": str(args.zip), "items": items}))
        (work / "results.json").write_text("[]")
        write_split(items, work / "split.json")
    built = json.loads((work / "items.json").read_text())
    if built["zip"] != str(args.zip):
        raise SystemExit(f"{work} holds the split of {built['zip']}, not {args.zip}: use another --workdir")
    items = built["items"]
    methods = args.methods.split(",")
    results = [r for r in json.loads((work / "results.json").read_text()) if r["method"] not in methods]
    for method in methods:
        r = run_one(method, args, work)
        results.append(r)
        (work / "results.json").write_text(json.dumps(results))
        print(
            f"{r['method']:<11} acc {r['val_accuracy']:.3f}  from process start {r['process_seconds']:6.1f} s"
            f"  in run {r.get('seconds', r['process_seconds']):6.1f} s  epochs {r['epochs']}  "
            f"load {r['load_average_1m']:.1f}  timings {r['timings_s']}",
            flush=True,
        )
        if r.get("flagged"):
            print(f"  data issues {r['data_issues']}:", *r["flagged"], sep="\n    ", flush=True)
    print_table(results, items, threads=args.threads)


def run_one(method: str, args: argparse.Namespace, work: Path) -> dict:
    if method == "plain_probe":
        command = [sys.executable, str(PLAIN_PROBE), "--zip", str(args.zip)]
        command += ["--split", str(work / "split.json"), "--threads", str(args.threads)]
        r, seconds = run_child(command)
        r |= {"method": method, "timings_s": {}, "epochs": None, "load_average_1m": os.getloadavg()[0]}
    else:
        # Every method starts from a cold copy of the split, except quick_warm, which reuses quick's.
        store_dir = work / ("quick" if method == "quick_warm" else method)
        if method != "quick_warm":
            shutil.rmtree(store_dir, ignore_errors=True)
        if not store_dir.exists():
            shutil.copytree(work / "data", store_dir)
            if method == "quick":  # once per install, not per run: timed apart
                print(f"prepare backbone (once per install): {prepare(store_dir):.1f} s", flush=True)
        command = [sys.executable, __file__, "--child", method, "--store", str(store_dir)]
        command += ["--threads", str(args.threads), "--config", args.config]
        r, seconds = run_child(command)
    r["process_seconds"] = seconds
    return r


def print_table(results: list[dict], items: list[dict], *, threads: int) -> None:
    print(
        f"\nmachine: {cpu_model()}, {os.cpu_count()} cpus, threads {threads}, "
        f"python {platform.python_version()}; {len(items)} images, "
        f"{sum(i['split'] == 'val' for i in items)} validation"
    )
    print("| method | val accuracy | from process start | in the run | load |\n|---|---|---|---|---|")
    for r in results:
        in_run = f"{r['seconds']:.1f} s" if "seconds" in r else ""
        print(
            f"| {r['method']} | {r['val_accuracy']:.3f} | {r['process_seconds']:.1f} s | {in_run} "
            f"| {r['load_average_1m']:.1f} |"
        )
    by = {r["method"]: r for r in results}
    for reference in ("plain_probe", "baseline"):
        if reference not in by:
            continue
        base = by[reference]
        for method in ("quick", "quick_cold", "quick_warm", "finetune"):
            if method in by:
                r = by[method]
                print(
                    f"{method} vs {reference}: {base['process_seconds'] / r['process_seconds']:.1f}x faster "
                    f"from process start, accuracy {r['val_accuracy'] - base['val_accuracy']:+.3f}"
                )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
