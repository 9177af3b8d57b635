"""ImageNet recipe throughput at tiny scale, on whatever device is here (CPU on the dev machines).

1. Data preparation: a miniature ILSVRC2012 layout with ImageNet-sized JPEGs (375 px high, ~500 wide)
   is unpacked (images/s) and written as pre-resized shards (shorter side 256; images/s).
2. The recipe's training loader (decode, RandomResizedCrop(176), flip in 2 workers) over the original
   JPEGs (the baseline) vs over the pre-resized shards: the gain of pre-resizing.
3. The synthetic-data throughput mode (``trainer.imagenet.throughput``): model images/s per device on
   random batches, and the training loader's images/s with 2 workers, and which one bounds training.

    uv run python bench/imagenet_throughput.py [--arch resnet50] [--res 128] [--batch-size 16]
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import argparse
import json
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from trainer.imagenet.config import ImageNetTrainConfig
from trainer.imagenet.distributed import Distributed
from trainer.imagenet.miniature import write_miniature
from trainer.imagenet.prepare import PrepareConfig, ShardOptions, prepare
from trainer.imagenet.throughput import loader_throughput, measure

CLASSES, TRAIN_PER_CLASS, VAL_PER_CLASS = 8, 40, 5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--res", type=int, default=128, help="training crop for the model figure")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = (
        torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({platform.processor() or 'x86_64'})"
    )
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {name}, {torch.get_num_threads()} torch threads")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mini = write_miniature(
            root / "raw", classes=CLASSES, train_per_class=TRAIN_PER_CLASS, val_per_class=VAL_PER_CLASS,
            image_size=375,
        )  # fmt: skip
        total = CLASSES * (TRAIN_PER_CLASS + VAL_PER_CLASS)
        config = PrepareConfig.model_validate(
            {
                "train_tar": {"path": mini.train_tar},
                "val_tar": {"path": mini.val_tar},
                "devkit": {"ground_truth": {"path": mini.ground_truth}, "meta_mat": {"path": mini.meta_mat}},
                "output_dir": root / "out",
                "expected": {
                    "classes": CLASSES,
                    "train": CLASSES * TRAIN_PER_CLASS,
                    "val": CLASSES * VAL_PER_CLASS,
                },
            }
        )
        started = time.perf_counter()
        prepare(config)
        unpack = total / (time.perf_counter() - started)
        sharded = prepare(
            config.model_copy(update={"shards": ShardOptions(shorter_side=256, workers=args.workers)})
        )
        shard_rate = sharded["shards"]["images_per_s"]
        print(f"prepare: unpack + sort {unpack:.0f} img/s; resize to 256 + shard {shard_rate:.0f} img/s "
              f"({args.workers} processes), {total} images")  # fmt: skip

        dist = Distributed(rank=0, world_size=1, local_rank=0, device=device)
        rates = {}
        for data_format in ("folders", "shards"):
            recipe = ImageNetTrainConfig(
                data_dir=root / "out", data_format=data_format, batch_size=args.batch_size,
                workers=args.workers, schedule="fast",
            )  # fmt: skip
            rates[data_format] = loader_throughput(recipe, dist, res=176, batches=12)
        print(f"training loader, crop 176, {args.workers} workers: originals {rates['folders']:.0f} img/s "
              f"(baseline), pre-resized shards {rates['shards']:.0f} img/s "
              f"({rates['shards'] / rates['folders']:.2f}x)")  # fmt: skip

        recipe = ImageNetTrainConfig(
            data_dir=root / "out", arch=args.arch, batch_size=args.batch_size, workers=args.workers,
            schedule="fast",
        )  # fmt: skip
        result = measure(recipe, dist, res=args.res, steps=args.steps, warmup=1, batches=8)
        print(json.dumps({
            "arch": args.arch, "res": args.res, "batch_size": args.batch_size, "device": result.device,
            "model_images_per_s_per_device": round(result.model_images_per_s, 1),
            "loader_images_per_s_per_process": round(result.loader_images_per_s, 1),
            "loader_workers": args.workers, "bottleneck": result.bottleneck,
        }))  # fmt: skip


if __name__ == "__main__":
    main()
