"""The recipe's plain functions, in torchvision references' shape: build the model and the optimizer,
``train_one_epoch``, ``evaluate`` (shared by training and the evaluate-only path)."""

from __future__ import annotations

import contextlib
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision.models import resnet18, resnet34, resnet50
from torchvision.models.resnet import BasicBlock, ResNet

from trainer.imagenet.config import ImageNetTrainConfig, lr_factor
from trainer.imagenet.data import to_device
from trainer.imagenet.distributed import Distributed, reduce_across_processes


def build_model(arch: str, num_classes: int) -> nn.Module:
    """A ResNet from scratch (no weights: nothing is downloaded)."""
    if arch == "resnet_tiny":
        return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=num_classes)
    builders = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}
    return builders[arch](weights=None, num_classes=num_classes)


def param_groups(model: nn.Module, config: ImageNetTrainConfig) -> list[dict]:
    """Weight decay on conv and linear weights; none on batch-norm and biases when asked (fast)."""
    if not config.no_bn_bias_decay:
        return [{"params": list(model.parameters()), "weight_decay": config.weight_decay}]
    decay, no_decay = [], []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            norm = isinstance(module, nn.modules.batchnorm._BatchNorm)
            (no_decay if norm or name == "bias" else decay).append(param)
    return [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def autocast_for(config: ImageNetTrainConfig, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (no loss scaling needed); float32 on CPU, where bf16 is rarely faster."""
    if device.type == "cuda" and config.mixed_precision == "auto" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_one_epoch(
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: DataLoader,
    *,
    epoch: int,
    peak_lr: float,
    config: ImageNetTrainConfig,
    dist: Distributed,
) -> dict:
    """One pass; the learning rate is set every step from ``lr_factor`` (stateless, resume-safe).

    Returns this process's loss and its time split: waiting on the loader vs everything else."""
    model.train()
    steps = (
        len(loader) if config.max_steps_per_epoch is None else min(len(loader), config.max_steps_per_epoch)
    )
    total_loss = torch.zeros((), device=dist.device)
    images_seen, waited = 0, 0.0
    started = time.perf_counter()
    batches = iter(loader)
    for step in range(steps):
        t0 = time.perf_counter()
        images, targets = next(batches)
        waited += time.perf_counter() - t0
        lr = peak_lr * lr_factor(config, epoch + step / steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x = to_device(images, dist.device, channels_last=config.channels_last)
        y = targets.to(dist.device, non_blocking=True)
        with autocast_for(config, dist.device):
            loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += loss.detach()
        images_seen += len(images)
    if dist.device.type == "cuda":
        torch.cuda.synchronize(dist.device)
    seconds = time.perf_counter() - started
    loss_sum, n_steps = reduce_across_processes([float(total_loss), steps], dist.device)
    return {
        "train_loss": loss_sum / max(n_steps, 1),
        "lr": lr if steps else 0.0,
        "images_per_s_per_process": images_seen / seconds if seconds else 0.0,
        "data_wait_fraction": waited / seconds if seconds else 0.0,
    }


@torch.inference_mode()
def evaluate(model: nn.Module, loader: DataLoader, *, config: ImageNetTrainConfig, dist: Distributed) -> dict:
    """Top-1/top-5 over the whole val set: each process scores its shard, the counts are summed."""
    model.eval()
    correct1 = correct5 = seen = 0.0
    for images, targets in loader:
        x = to_device(images, dist.device, channels_last=config.channels_last)
        y = targets.to(dist.device, non_blocking=True)
        with autocast_for(config, dist.device):
            logits = model(x).float()
            if config.test_time_flip:
                logits = logits + model(torch.flip(x, dims=[3])).float()
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices
        hits = top.eq(y.view(-1, 1))
        correct1 += float(hits[:, 0].sum())
        correct5 += float(hits.any(dim=1).sum())
        seen += len(y)
    correct1, correct5, seen = reduce_across_processes([correct1, correct5, seen], dist.device)
    return {"top1": correct1 / seen, "top5": correct5 / seen, "val_images": int(seen)}
