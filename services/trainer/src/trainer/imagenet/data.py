"""Loaders over a prepared directory (``train/<wnid>/``, ``val/<wnid>/``), sharded across processes.

Workers decode and crop to uint8 tensors; normalisation to float happens on the device (``to_device``),
which keeps the workers' output 4x smaller and the host-to-device copy cheap. Training workers are not
persistent: each epoch forks them afresh, so a crop size changed between epochs (progressive
resizing) reaches them.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from torchvision import datasets, transforms

from trainer.imagenet.config import ImageNetTrainConfig
from trainer.imagenet.distributed import Distributed
from trainer.training.errors import TrainingError

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
CROP_RATIO = 0.875  # resize to res / 0.875, centre-crop res (224 of 256)


class DataMissing(TrainingError):
    """The prepared directory is not there or not complete."""

    code = "data_missing"


def train_transform(res: int) -> transforms.Compose:
    return transforms.Compose(
        [
            transforms.RandomResizedCrop(res, antialias=True),
            transforms.RandomHorizontalFlip(),
            transforms.PILToTensor(),
        ]
    )


def eval_transform(res: int) -> transforms.Compose:
    return transforms.Compose(
        [
            transforms.Resize(round(res / CROP_RATIO), antialias=True),
            transforms.CenterCrop(res),
            transforms.PILToTensor(),
        ]
    )


def set_train_res(dataset: Dataset, res: int) -> None:
    """Change the random crop's size for the next epoch's (freshly forked) workers."""
    crop = dataset.transform.transforms[0]
    crop.size = (res, res)


def image_folder(root: Path, split: str, transform, *, shards: bool = False) -> Dataset:
    """The prepared folders of a split, or (``shards``) its pre-resized shards."""
    if shards:
        from trainer.imagenet.shards import INDEX, ShardSet

        if not (root / "shards" / INDEX).is_file():
            raise DataMissing(f"{root}/shards has no {INDEX}: prepare with 'shards' set, or use folders")
        return ShardSet(root, split, transform)
    path = root / split
    if not path.is_dir():
        raise DataMissing(f"{path} is missing: run the data-preparation Job (trainer.imagenet.prepare) first")
    return datasets.ImageFolder(str(path), transform=transform)


class RankShard(Dataset):
    """Every ``world_size``-th item from ``rank``: each image evaluated exactly once across processes
    (``DistributedSampler`` pads with repeats, which skews top-1 on a small val set)."""

    def __init__(self, base: Dataset, dist: Distributed) -> None:
        self.base, self.indices = base, range(dist.rank, len(base), dist.world_size)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        return self.base[self.indices[i]]


def train_loader(
    dataset: Dataset, config: ImageNetTrainConfig, dist: Distributed
) -> tuple[DataLoader, DistributedSampler]:
    sampler = DistributedSampler(
        dataset,
        num_replicas=dist.world_size,
        rank=dist.rank,
        shuffle=True,
        seed=config.seed,
        drop_last=True,
    )
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.workers,
        pin_memory=dist.device.type == "cuda",
        drop_last=True,
        persistent_workers=False,
    )
    return loader, sampler


def eval_loader(dataset: Dataset, config: ImageNetTrainConfig, dist: Distributed) -> DataLoader:
    return DataLoader(
        RankShard(dataset, dist),
        batch_size=config.batch_size,
        shuffle=False,
        num_workers=config.workers,
        pin_memory=dist.device.type == "cuda",
    )


def to_device(images: torch.Tensor, device: torch.device, *, channels_last: bool) -> torch.Tensor:
    """uint8 NCHW from a worker -> normalised float32 on the device."""
    x = images.to(device, non_blocking=True).float().div_(255)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x
