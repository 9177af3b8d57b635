"""Training of text models with the core loop: token models on id batches, MiniLM's quick head on
cached sentence embeddings, MiniLM fine-tuning starting from that head."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import torch
from common.training_config import TextTrainConfig
from torch import nn

from trainer.training.core.context import TrainingContext, shuffled_batches, steps_per_epoch
from trainer.training.core.head import fit_head, resume_state
from trainer.training.core.loop import EpochStats, FitState, fit, predict, score, train_epoch
from trainer.training.core.optim import LrScheduler
from trainer.training.text.data import padded
from trainer.training.text.optim import token_model_optimizer

EVAL_BATCH = 256


def length_sorted_chunks(ids: np.ndarray, batch: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Row chunks of similar length (less padding), and the order that restores the input order."""
    order = np.argsort((ids != 0).sum(1), kind="stable")
    chunks = [padded(ids[order[s : s + batch]]) for s in range(0, len(order), batch)]
    return chunks, np.argsort(order, kind="stable")


def logits_of(
    model: nn.Module, ids: np.ndarray, ctx: TrainingContext, batch: int = EVAL_BATCH
) -> torch.Tensor:
    chunks, restore = length_sorted_chunks(ids, batch)
    out = predict(
        model=model, batches=(torch.from_numpy(c).to(ctx.device.torch) for c in chunks), device=ctx.device
    )
    return out[torch.from_numpy(restore)]


def train_tokens(
    ctx: TrainingContext, ids: np.ndarray, *, module: nn.Module | None = None, stage: str = "train"
) -> FitState:
    """Train ``ctx.model`` on the ids of the training texts (each batch cut to its longest text)."""
    config, data, device, model = ctx.config, ctx.data, ctx.device, ctx.model
    x_train, x_val = ids[data.train], ids[data.val]
    y_train = torch.from_numpy(data.labels[data.train]).to(device.torch)
    y_val = torch.from_numpy(data.labels[data.val])
    batch_size = min(config.batch_size, len(x_train))
    optimizer = token_model_optimizer(config, model)
    scheduler = LrScheduler(optimizer, config, steps_per_epoch=steps_per_epoch(len(x_train), batch_size))
    state = resume_state(ctx, model, optimizer, scheduler, resume=True)

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for index in shuffled_batches(len(x_train), batch_size, ctx.generator):
            rows = index.numpy()
            yield torch.from_numpy(padded(x_train[rows])).to(device.torch), y_train[index.to(device.torch)]

    def run_epoch(epoch: int) -> EpochStats:
        return train_epoch(
            model=model,
            batches=batches(),
            optimizer=optimizer,
            scheduler=scheduler,
            loss_fn=ctx.loss_fn,
            device=device,
        )

    def evaluate() -> EpochStats:
        return score(logits_of(model, x_val, ctx), y_val, ctx.loss_fn)

    return fit(
        config=config,
        stage=stage,
        module=model,
        optimizer=optimizer,
        scheduler=scheduler,
        run_epoch=run_epoch,
        evaluate=evaluate,
        state=state,
        checkpoints=ctx.checkpoints,
        report=ctx.report,
    )


def train_head(
    ctx: TrainingContext,
    head: nn.Module,
    embeddings: np.ndarray,
    *,
    stage: str = "quick",
    resume: bool = True,
) -> FitState:
    """Fit ``head`` (dropout -> linear) on cached sentence embeddings of the training texts."""
    data, device = ctx.data, ctx.device
    x_all = torch.from_numpy(embeddings).to(device.torch)
    y_all = torch.from_numpy(data.labels).to(device.torch)
    train, val = torch.from_numpy(data.train).to(device.torch), torch.from_numpy(data.val).to(device.torch)
    x_train, y_train, x_val, y_val = x_all[train], y_all[train], x_all[val], y_all[val]
    return fit_head(
        ctx, head, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, stage=stage, resume=resume
    )


def train_probe(ctx: TrainingContext, head: nn.Module, embeddings: np.ndarray) -> FitState:
    """MiniLM fine-tuning's start: the quick recipe for ``finetune_probe_epochs``, not checkpointed."""
    config = ctx.config
    assert isinstance(config, TextTrainConfig)
    quick = TextTrainConfig(model="minilm")
    probe_config = config.model_copy(
        update={
            "epochs": config.finetune_probe_epochs,
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
    return train_head(probe_ctx, head, embeddings, stage="probe", resume=False)
