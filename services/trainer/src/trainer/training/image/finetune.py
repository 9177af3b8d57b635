"""Finetune mode: a linear probe on cached features first, then the network (all of it or its last N
blocks) trains on augmented images, earlier blocks at smaller learning rates."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from common.events import PhaseEvent
from common.imaging import Preprocessing, centre_crop, resize_shorter_side
from common.training_config import ImageTrainConfig
from torch import nn

from trainer.training.core.context import TrainingContext, shuffled_batches, steps_per_epoch
from trainer.training.core.loop import EpochStats, FitState, fit, predict, score, train_epoch
from trainer.training.core.optim import LrScheduler, build_optimizer, param_groups
from trainer.training.image.augment import augment_batch
from trainer.training.image.preprocessing import device_images, standardize
from trainer.training.image.quick import train_probe

if TYPE_CHECKING:
    from trainer.training.image.task import ImageTask

EVAL_BATCH = 64


def train_sources(ctx: TrainingContext, prep: Preprocessing) -> torch.Tensor:
    """uint8 [N,3,R,R]: each training image, shorter side resized to ``resize``, centre square; random
    crops are cut from these."""
    size = prep.resize
    out = torch.empty((len(ctx.data.train), 3, size, size), dtype=torch.uint8)
    for row, i in enumerate(ctx.data.train):
        square = centre_crop(resize_shorter_side(ctx.data.images[i], size), size)
        out[row] = torch.from_numpy(np.array(square, dtype=np.uint8)).permute(2, 0, 1)
    return out


def unfreeze(ctx: TrainingContext) -> list[tuple[nn.Module, float]]:
    """Freeze all but the last ``unfreeze_blocks`` stages; (module, lr scale) from the earliest trained
    stage to the head. A scratch network has nothing worth freezing: it trains whole, batch-norm
    statistics included."""
    model, config = ctx.model, ctx.config
    model.keep_norm_statistics = config.freeze_bn_stats and config.backbone != "scratch"
    with_params = model.trainable_stage_indices()
    count = len(with_params)
    if config.unfreeze_blocks != "all" and config.backbone != "scratch":
        count = min(config.unfreeze_blocks, count)
    trained = with_params[len(with_params) - count :]
    model.freeze_stages(trained[0] if trained else len(model.stages))
    scaled = [(model.stages[i], config.layer_lr_decay ** (count - k)) for k, i in enumerate(trained)]
    return [*scaled, (model.head, 1.0)]


def train_finetune(ctx: TrainingContext, features: dict[str, np.ndarray], task: ImageTask) -> FitState:
    config, image_set, device, model = ctx.config, ctx.data, ctx.device, ctx.model
    prep = task.prep
    model.norm.kind = config.feature_norm
    payload = ctx.checkpoints.load(config)
    # Fine-tuning starts from the quick model of the same data (its probe, with the quick default's
    # feature normalisation) and is measured against it: epoch 0 below. When the network trains with
    # another normalisation (the finetune default: none), its head is refitted for it first.
    quick_norm = ImageTrainConfig(mode="quick").feature_norm
    if payload is None and config.probe_epochs:
        model.norm.kind = quick_norm
        probe = train_probe(ctx, features, feature_norm=quick_norm)
        last = probe.history[-1]
        ctx.report(PhaseEvent(phase="probe", val_acc=last["val_acc"], epochs=last["epoch"]))
        ctx.probe_history = probe.history

    groups = param_groups(unfreeze(ctx), learning_rate=config.learning_rate, weight_decay=config.weight_decay)
    optimizer = build_optimizer(config, groups)
    n_train = len(image_set.train)
    batch_size = min(config.batch_size, n_train)
    scheduler = LrScheduler(optimizer, config, steps_per_epoch=steps_per_epoch(n_train, batch_size))
    state = FitState()
    if payload is not None:
        state = ctx.checkpoints.restore(payload, module=model, optimizer=optimizer, scheduler=scheduler)
        ctx.report(PhaseEvent(phase="training", resumed_from_epoch=state.epoch))

    sources = train_sources(ctx, prep)
    labels = torch.from_numpy(image_set.labels)
    y_train = labels[torch.from_numpy(image_set.train)]
    y_val = labels[torch.from_numpy(image_set.val)]
    val_pixels = task.val_pixels(image_set)

    def batches():
        for idx in shuffled_batches(n_train, batch_size, ctx.generator):
            x = augment_batch(
                sources[idx].to(device.torch),
                size=prep.input_size,
                scale_min=config.crop_scale_min,
                jitter=config.color_jitter,
                trivial=config.trivial_augment,
                generator=ctx.generator,
            )
            yield (
                standardize(x, prep).contiguous(memory_format=torch.channels_last),
                y_train[idx].to(device.torch),
            )

    # Never end below the model fine-tuning starts from: the probe is evaluated as epoch 0, and the
    # best epoch's weights (by validation accuracy) are what the run keeps.
    best: dict = {"epoch": state.epoch, "accuracy": -1.0, "weights": None}
    current = {"epoch": state.epoch}

    def remember(accuracy: float) -> None:
        if accuracy > best["accuracy"]:
            weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            best.update(epoch=current["epoch"], accuracy=accuracy, weights=weights, norm=model.norm.kind)

    def run_epoch(epoch: int) -> EpochStats:
        current["epoch"] = epoch
        return train_epoch(
            model=model,
            batches=batches(),
            optimizer=optimizer,
            scheduler=scheduler,
            loss_fn=ctx.loss_fn,
            device=device,
        )

    def evaluate() -> EpochStats:
        chunks = (
            device_images(val_pixels[s : s + EVAL_BATCH], prep, device)
            for s in range(0, len(val_pixels), EVAL_BATCH)
        )
        stats = score(predict(model=model, batches=chunks, device=device), y_val, ctx.loss_fn)
        remember(stats.accuracy)
        return stats

    if payload is None:
        start = evaluate()
        if model.norm.kind != config.feature_norm:  # only after the probe: refit its head for training
            model.norm.kind = config.feature_norm
            train_probe(ctx, features, feature_norm=config.feature_norm)  # reports nothing
        state.history.append(
            {
                "epoch": 0,
                "epochs": config.epochs,
                "stage": "probe",
                "val_loss": start.loss,
                "val_acc": start.accuracy,
            }
        )
    state = fit(
        config=config,
        stage="finetune",
        module=model,
        optimizer=optimizer,
        scheduler=scheduler,
        run_epoch=run_epoch,
        evaluate=evaluate,
        state=state,
        checkpoints=ctx.checkpoints,
        report=ctx.report,
    )
    last = state.history[-1]["val_acc"] if state.history else -1.0
    if best["weights"] is not None and best["accuracy"] > last:
        model.load_state_dict(best["weights"])
        model.norm.kind = best["norm"]
        state.best_epoch, state.best_accuracy = best["epoch"], best["accuracy"]
        ctx.report(PhaseEvent(phase="kept_best", epoch=best["epoch"], val_acc=best["accuracy"]))
    return state
