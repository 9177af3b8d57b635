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
from common.events import EpochEvent
from torch import nn

from trainer.training.core.context import TrainingContext
from trainer.training.core.head import fit_head
from trainer.training.core.loop import FitState, score
from trainer.training.image.feature_norm import FeatureNorm, normalise
from trainer.training.image.linear_probe import TOLERANCE, ProbeFit, fit_probe


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
        return fit_head_lbfgs(ctx, features, stage=stage, feature_norm=ctx.config.feature_norm)
    image_set, device = ctx.data, ctx.device
    features = {view: normalise(x, ctx.config.feature_norm) for view, x in features.items()}
    head = nn.Sequential(ctx.model.dropout, ctx.model.head)
    x_train = torch.cat([torch.from_numpy(features[v][image_set.train]) for v in features]).to(device.torch)
    y_all = torch.from_numpy(image_set.labels).to(device.torch)
    y_train = y_all[torch.from_numpy(image_set.train)].repeat(len(features))
    x_val = torch.from_numpy(features["center"][image_set.val]).to(device.torch)
    y_val = y_all[torch.from_numpy(image_set.val)]
    return fit_head(
        ctx, head, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, stage=stage, resume=resume
    )


def fit_head_lbfgs(
    ctx: TrainingContext,
    features: dict[str, np.ndarray],
    *,
    stage: str,
    tolerance: float = TOLERANCE,
    feature_norm: FeatureNorm = "none",
) -> FitState:
    """The head fitted to convergence (gradient norm below ``tolerance``) on ``normalise(features,
    feature_norm)`` (image runs: what their network computes before the head); one history row per
    L-BFGS iteration (its ``epoch``)."""
    config, data = ctx.config, ctx.data
    features = {view: normalise(x, feature_norm) for view, x in features.items()}
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
        tolerance=tolerance,
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
        ctx.report(EpochEvent(**history[-1], converged=fit.converged))
    return FitState(epoch=fit.iterations, history=history)


def train_probe(
    ctx: TrainingContext, features: dict[str, np.ndarray], *, feature_norm: FeatureNorm
) -> FitState:
    """The linear probe before fine-tuning: the quick recipe for ``probe_epochs`` on ``normalise(features,
    feature_norm)`` (the network must apply the same), not checkpointed."""
    from common.training_config import ImageTrainConfig

    quick = ImageTrainConfig(mode="quick")
    probe_config = ctx.config.model_copy(
        update={
            "feature_norm": feature_norm,
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
