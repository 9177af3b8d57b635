"""Quick mode: the backbone stays frozen; a linear head trains on cached pooled features.

The default head (``head="lbfgs"``) is logistic regression fitted to convergence by L-BFGS on all
features at once (``linear_probe.fit_probe``): well under a second for a few hundred images, and the
curve stops where it converged. ``head="sgd"`` trains it for ``epochs`` mini-batch epochs (resumable).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
from torch import nn

from trainer.training.core.context import TrainingContext, shuffled_batches, steps_per_epoch
from trainer.training.core.loop import EpochStats, FitState, fit, predict, score, train_epoch
from trainer.training.core.optim import LrScheduler, build_optimizer, param_groups
from trainer.training.image.linear_probe import ProbeFit, fit_probe


def train_head(
    ctx: TrainingContext,
    features: dict[str, np.ndarray],
    task: object = None,
    *,
    stage: str = "quick",
    resume: bool = True,
) -> FitState:
    """Fit ``dropout -> head`` on the features of every view of the training images (validation: centre)."""
    if ctx.config.head == "lbfgs":
        return fit_head_lbfgs(ctx, features, stage=stage)
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


def fit_head_lbfgs(ctx: TrainingContext, features: dict[str, np.ndarray], *, stage: str) -> FitState:
    """The head fitted to convergence; one history row per L-BFGS iteration (its ``epoch``)."""
    config, data = ctx.config, ctx.data
    x_train = np.concatenate([features[v][data.train] for v in features])
    y_train = np.tile(data.labels[data.train], len(features))
    x_val, y_val = features["center"][data.val], torch.from_numpy(data.labels[data.val])
    weights = None if ctx.class_weights is None else np.asarray(ctx.class_weights)
    started = time.perf_counter()

    def on_iteration(iteration: int, fit: ProbeFit) -> dict[str, float]:
        val = score(torch.from_numpy(fit.logits(x_val)), y_val, ctx.loss_fn)
        return {"val_loss": val.loss, "val_acc": val.accuracy}

    fit = fit_probe(
        x_train,
        y_train,
        num_classes=len(data.classes),
        c=config.head_c,
        class_weight=weights,
        on_iteration=on_iteration,
    )
    head: nn.Linear = ctx.model.head
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(fit.weight))
        head.bias.copy_(torch.from_numpy(fit.bias))
    seconds = time.perf_counter() - started
    history = [
        {"epoch": row.pop("iteration"), "epochs": fit.iterations, "stage": stage, **row, "lr": None}
        for row in fit.trace
    ]
    if history:
        history[-1]["seconds"] = round(seconds, 3)
        ctx.report({"type": "epoch", **history[-1], "converged": fit.converged})
    return FitState(epoch=fit.iterations, history=history)


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
