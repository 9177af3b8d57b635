"""A head trained by the core loop on features held in memory (image quick mode, MiniLM quick):
shuffled mini-batches, the run's optimizer and schedule, resume from the epoch checkpoint."""

from __future__ import annotations

import torch
from common.events import PhaseEvent
from torch import nn

from trainer.training.core.context import TrainingContext, shuffled_batches, steps_per_epoch
from trainer.training.core.loop import EpochStats, FitState, fit, predict, score, train_epoch
from trainer.training.core.optim import LrScheduler, build_optimizer, param_groups

EVAL_BATCH = 1024


def resume_state(ctx: TrainingContext, module: nn.Module, optimizer, scheduler, resume: bool) -> FitState:
    """The fit state of the run's epoch checkpoint, restored into ``module``/optimizer/scheduler, or a
    fresh one; a resume is reported as a training phase event."""
    payload = ctx.checkpoints.load(ctx.config) if resume else None
    if payload is None:
        return FitState()
    state = ctx.checkpoints.restore(payload, module=module, optimizer=optimizer, scheduler=scheduler)
    ctx.report(PhaseEvent(phase="training", resumed_from_epoch=state.epoch))
    return state


def fit_head(
    ctx: TrainingContext,
    head: nn.Module,
    *,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    stage: str,
    resume: bool,
) -> FitState:
    """Fit ``head`` on ``x_train`` for ``config.epochs`` epochs, evaluated on ``x_val`` after each."""
    config, device = ctx.config, ctx.device
    batch_size = min(config.batch_size, len(y_train))
    groups = param_groups([(head, 1.0)], learning_rate=config.learning_rate, weight_decay=config.weight_decay)
    optimizer = build_optimizer(config, groups)
    scheduler = LrScheduler(optimizer, config, steps_per_epoch=steps_per_epoch(len(y_train), batch_size))
    state = resume_state(ctx, head, optimizer, scheduler, resume)

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
        return score(predict(model=head, batches=x_val.split(EVAL_BATCH), device=device), y_val, ctx.loss_fn)

    return fit(
        config=config,
        stage=stage,
        module=head,
        optimizer=optimizer,
        scheduler=scheduler,
        run_epoch=run_epoch,
        evaluate=evaluate,
        state=state,
        checkpoints=ctx.checkpoints if resume else None,
        report=ctx.report,
    )
