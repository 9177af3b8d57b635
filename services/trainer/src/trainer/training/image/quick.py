"""Quick mode: the backbone stays frozen; a linear head trains on cached pooled features in seconds."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from trainer.training.core.context import TrainingContext, shuffled_batches, steps_per_epoch
from trainer.training.core.loop import EpochStats, FitState, fit, predict, score, train_epoch
from trainer.training.core.optim import LrScheduler, build_optimizer, param_groups


def train_head(
    ctx: TrainingContext,
    features: dict[str, np.ndarray],
    task: object = None,
    *,
    stage: str = "quick",
    resume: bool = True,
) -> FitState:
    """Fit ``dropout -> head`` on the features of every view of the training images (validation: centre)."""
    config, image_set, device = ctx.config, ctx.data, ctx.device
    head = nn.Sequential(ctx.model.dropout, ctx.model.head)
    x_train = torch.cat([torch.from_numpy(features[v][image_set.train]) for v in features]).to(device.torch)
    y_all = torch.from_numpy(image_set.labels).to(device.torch)
    y_train = y_all[torch.from_numpy(image_set.train)].repeat(len(features))
    x_val = torch.from_numpy(features["center"][image_set.val]).to(device.torch)
    y_val = y_all[torch.from_numpy(image_set.val)]
    batch_size = min(config.batch_size, len(y_train))

    groups = param_groups([(head, 1.0)], learning_rate=config.learning_rate, weight_decay=config.weight_decay)
    optimizer = build_optimizer(config, groups)
    scheduler = LrScheduler(optimizer, config, steps_per_epoch=steps_per_epoch(len(y_train), batch_size))
    state = FitState()
    payload = ctx.checkpoints.load(config) if resume else None
    if payload is not None:
        state = ctx.checkpoints.restore(payload, module=head, optimizer=optimizer, scheduler=scheduler)
        ctx.report({"type": "phase", "phase": "training", "resumed_from_epoch": state.epoch})

    def run_epoch(epoch: int) -> EpochStats:
        batches = shuffled_batches(len(y_train), batch_size, ctx.generator)
        return train_epoch(
            model=head,
            batches=((x_train[b.to(device.torch)], y_train[b.to(device.torch)]) for b in batches),
            optimizer=optimizer,
            scheduler=scheduler,
            loss_fn=ctx.loss_fn,
            device=device,
        )

    def evaluate() -> EpochStats:
        return score(predict(model=head, batches=x_val.split(1024), device=device), y_val, ctx.loss_fn)

    checkpoints = ctx.checkpoints if resume else None
    return fit(
        config=config,
        stage=stage,
        module=head,
        optimizer=optimizer,
        scheduler=scheduler,
        run_epoch=run_epoch,
        evaluate=evaluate,
        state=state,
        checkpoints=checkpoints,
        report=ctx.report,
    )


def train_probe(ctx: TrainingContext, features: dict[str, np.ndarray]) -> FitState:
    """The linear probe before fine-tuning: the quick recipe for ``probe_epochs``, not checkpointed."""
    from common.training_config import ImageTrainConfig

    quick = ImageTrainConfig(mode="quick")
    probe_config = ctx.config.model_copy(
        update={
            "epochs": ctx.config.probe_epochs,
            "optimizer": quick.optimizer,
            "learning_rate": quick.learning_rate,
            "weight_decay": quick.weight_decay,
            "batch_size": quick.batch_size,
            "lr_schedule": quick.lr_schedule,
            "warmup_epochs": 0,
            "early_stopping": None,
        }
    )
    probe_ctx = dataclasses.replace(ctx, config=probe_config, report=lambda event: None)
    return train_head(probe_ctx, features, stage="probe", resume=False)
