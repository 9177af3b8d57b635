"""ImageNet recipe throughput at tiny scale, on whatever device is here (CPU on the dev machines).

1. Data preparation: a miniature ILSVRC2012 layout with ImageNet-sized JPEGs (375 px high, ~500 wide)
   is unpacked (images/s) and written as pre-resized shards (shorter side 256; images/s).
2. Decoding for training, one process: RandomResizedCrop(176) + flip from the original JPEGs (the
   baseline) vs from the pre-resized shard JPEGs: the gain of pre-resizing.
3. The synthetic-data throughput mode (``trainer.imagenet.throughput``): model images/s per device on
   random batches, and the training loader's images/s with 2 workers, and which one bounds training.

    uv run python bench/imagenet_throughput.py [--arch resnet50] [--res 128] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from PIL import Image
from trainer.imagenet.config import ImageNetTrainConfig
from trainer.imagenet.data import train_transform
from trainer.imagenet.distributed import Distributed
from trainer.imagenet.miniature import write_miniature
from trainer.imagenet.prepare import PrepareConfig, prepare
from trainer.imagenet.throughput import measure

CLASSES, TRAIN_PER_CLASS, VAL_PER_CLASS = 8, 40, 5


def decode_rate(blobs: list[bytes], res: int) -> float:
    transform = train_transform(res)
    started = time.perf_counter()
    for blob in blobs:
        with Image.open(io.BytesIO(blob)) as image:
            transform(image.convert("RGB"))
    return len(blobs) / (time.perf_counter() - started)


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
            config.model_copy(update={"shards": {"shorter_side": 256, "workers": args.workers}})
        )
        shard_rate = sharded["shards"]["images_per_s"]
        print(f"prepare: unpack + sort {unpack:.0f} img/s; resize to 256 + shard {shard_rate:.0f} img/s "
              f"({args.workers} processes), {total} images")  # fmt: skip

        originals = [p.read_bytes() for p in sorted((root / "out" / "train").rglob("*.JPEG"))]
        resized = []
        for shard in sharded["shards"]["splits"]["train"]["shards"]:
            with tarfile.open(root / "out" / "shards" / shard) as archive:
                resized += [
                    archive.extractfile(m).read() for m in archive.getmembers() if m.name.endswith(".jpg")
                ]
        base, fast = decode_rate(originals, 176), decode_rate(resized, 176)
        print(f"decode + crop 176, 1 process: originals {base:.0f} img/s (baseline), "
              f"pre-resized shards {fast:.0f} img/s ({fast / base:.2f}x)")  # fmt: skip

        recipe = ImageNetTrainConfig(
            data_dir=root / "out", arch=args.arch, batch_size=args.batch_size, workers=args.workers,
            schedule="fast",
        )  # fmt: skip
        dist = Distributed(rank=0, world_size=1, local_rank=0, device=device)
        result = measure(recipe, dist, res=args.res, steps=args.steps, warmup=1, batches=8)
        print(json.dumps({
            "arch": args.arch, "res": args.res, "batch_size": args.batch_size, "device": result.device,
            "model_images_per_s_per_device": round(result.model_images_per_s, 1),
            "loader_images_per_s_per_process": round(result.loader_images_per_s, 1),
            "loader_workers": args.workers, "bottleneck": result.bottleneck,
        }))  # fmt: skip


if __name__ == "__main__":
    main()
