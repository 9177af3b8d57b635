"""Synthetic-data throughput: is the GPU or the data loader the bottleneck?

``torchrun --nproc-per-node 8 -m trainer.imagenet.throughput --arch resnet50 --batch-size 256 --res 176``
prints, per process, two figures measured separately:
- model images/s: forward + backward + SGD step on random uint8 batches already on the device (the
  recipe's own step: normalisation, channels_last, bf16 autocast on CUDA), so no loader is involved;
- loader images/s: the recipe's training loader (decode + random-resized crop + flip in ``--workers``
  processes) with no model; over ``--data-dir`` (a prepared directory) or, without one, over in-memory
  synthetic JPEGs of ImageNet's typical size (500x375).
The slower of the two, times the processes of a pod, bounds the pod's training speed.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from trainer.imagenet.config import ImageNetTrainConfig
from trainer.imagenet.data import image_folder, to_device, train_loader, train_transform
from trainer.imagenet.distributed import Distributed, init_distributed, reduce_across_processes, shutdown
from trainer.imagenet.engine import autocast_for, build_model


@dataclass(frozen=True)
class Throughput:
    model_images_per_s: float
    loader_images_per_s: float
    device: str

    @property
    def bottleneck(self) -> str:
        return "data loader" if self.loader_images_per_s < self.model_images_per_s else "model (device)"


class SyntheticJpegs(Dataset):
    """``count`` distinct random JPEGs (noise is the worst case for the decoder), cycled to ``length``."""

    def __init__(self, *, length: int, count: int = 64, size: tuple[int, int] = (500, 375), seed: int = 0):
        rng = np.random.default_rng(seed)
        self.length, self.blobs = length, []
        for _ in range(count):
            pixels = rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
            image = Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR)
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=90)
            self.blobs.append(buffer.getvalue())
        self.transform = train_transform(224)
        self.classes = ["synthetic"]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        with Image.open(io.BytesIO(self.blobs[i % len(self.blobs)])) as image:
            return self.transform(image.convert("RGB")), 0


def model_throughput(
    config: ImageNetTrainConfig, dist: Distributed, *, res: int, steps: int, warmup: int
) -> float:
    model: nn.Module = build_model(config.arch, 1000).to(dist.device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if config.compile:
        model = torch.compile(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=config.momentum)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    images = torch.randint(0, 256, (config.batch_size, 3, res, res), dtype=torch.uint8)
    targets = torch.randint(0, 1000, (config.batch_size,), device=dist.device)
    model.train()

    def step() -> None:
        x = to_device(images, dist.device, channels_last=config.channels_last)
        with autocast_for(config, dist.device):
            loss = loss_fn(model(x), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if dist.device.type == "cuda":
        torch.cuda.synchronize(dist.device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if dist.device.type == "cuda":
        torch.cuda.synchronize(dist.device)
    return steps * config.batch_size / (time.perf_counter() - started)


def loader_throughput(config: ImageNetTrainConfig, dist: Distributed, *, res: int, batches: int) -> float:
    if config.data_dir.is_dir():
        dataset = image_folder(
            config.data_dir, "train", train_transform(res), shards=config.data_format == "shards"
        )
    else:
        dataset = SyntheticJpegs(length=config.batch_size * (batches + 2) * dist.world_size)
        dataset.transform = train_transform(res)
    loader: DataLoader = train_loader(dataset, config, dist)[0]
    iterator = iter(loader)
    next(iterator)  # workers started and warm
    started, seen = time.perf_counter(), 0
    for _ in range(min(batches, len(loader) - 1)):
        images, _ = next(iterator)
        seen += len(images)
    return seen / (time.perf_counter() - started)


def measure(
    config: ImageNetTrainConfig, dist: Distributed, *, res: int, steps: int, warmup: int, batches: int
) -> Throughput:
    model_ips = model_throughput(config, dist, res=res, steps=steps, warmup=warmup)
    loader_ips = loader_throughput(config, dist, res=res, batches=batches)
    name = torch.cuda.get_device_name(dist.device) if dist.device.type == "cuda" else "CPU"
    return Throughput(model_ips, loader_ips, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.imagenet.throughput", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--batch-size", type=int, default=256, help="per process")
    parser.add_argument("--res", type=int, default=176, help="training crop (the fast recipe: 160-192)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batches", type=int, default=50, help="loader batches to time")
    parser.add_argument("--workers", type=int, default=8, help="loader processes per GPU")
    parser.add_argument("--data-dir", default="/nonexistent", help="a prepared directory; default: synthetic")
    parser.add_argument("--data-format", choices=["folders", "shards"], default="folders")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args(argv)
    config = ImageNetTrainConfig(
        data_dir=args.data_dir, arch=args.arch, batch_size=args.batch_size, workers=args.workers,
        compile=args.compile, schedule="fast", data_format=args.data_format,
    )  # fmt: skip
    dist = init_distributed()
    try:
        result = measure(
            config, dist, res=args.res, steps=args.steps, warmup=args.warmup, batches=args.batches
        )
        total_model, total_loader = reduce_across_processes(
            [result.model_images_per_s, result.loader_images_per_s], dist.device
        )
    finally:
        shutdown()
    if dist.is_main:
        summary = {
            "device": result.device,
            "processes": dist.world_size,
            "arch": args.arch,
            "res": args.res,
            "batch_size": args.batch_size,
            "workers": args.workers,
            "model_images_per_s_per_device": round(result.model_images_per_s, 1),
            "loader_images_per_s_per_process": round(result.loader_images_per_s, 1),
            "model_images_per_s_total": round(total_model, 1),
            "loader_images_per_s_total": round(total_loader, 1),
            "bottleneck": result.bottleneck,
        }
        print(json.dumps(summary))
        print(
            f"{result.device} x{dist.world_size}: model {summary['model_images_per_s_per_device']} img/s per "
            f"device, loader {summary['loader_images_per_s_per_process']} img/s per process "
            f"({args.workers} workers) -> bottleneck: {result.bottleneck}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
