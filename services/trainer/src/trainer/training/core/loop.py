"""The epoch loop shared by both modes: train one epoch, evaluate, report, checkpoint, maybe stop early.

A mode supplies ``run_epoch`` (one pass over its training batches) and ``evaluate`` (validation
loss, accuracy); the loop owns everything a checkpoint has to restore.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from common.events import EpochEvent, Report
from common.training_config import LoopConfig
from torch import nn

from trainer.training.core.checkpoint import CheckpointStore
from trainer.training.core.device import Device
from trainer.training.core.optim import LrScheduler
from trainer.training.progress import PhaseCounter

EPOCH_REPORT_INTERVAL_S = 1.0

log = logging.getLogger(__name__)


@dataclass
class EpochStats:
    loss: float
    accuracy: float


@dataclass
class FitState:
    """Progress a resumed run continues from."""

    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_accuracy: float = -1.0
    best_epoch: int = 0
    bad_epochs: int = 0
    best_weights: dict[str, torch.Tensor] | None = None
    stopped_early: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def train_epoch(
    *,
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    scheduler: LrScheduler,
    loss_fn: nn.Module,
    device: Device,
) -> EpochStats:
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in batches:
        scheduler.before_step()
        with device.autocast():
            logits = model(x)
        loss = loss_fn(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
    return EpochStats(total_loss / max(seen, 1), correct / max(seen, 1))


@torch.inference_mode()
def predict(*, model: nn.Module, batches: Iterable[torch.Tensor], device: Device) -> torch.Tensor:
    """float32 logits of all batches, on the CPU."""
    model.eval()
    out = []
    for x in batches:
        with device.autocast():
            out.append(model(x).float().cpu())
    return torch.cat(out)


def score(logits: torch.Tensor, labels: torch.Tensor, loss_fn: nn.CrossEntropyLoss) -> EpochStats:
    """Loss (the training loss: same class weights and smoothing) and accuracy of CPU logits."""
    weight = None if loss_fn.weight is None else loss_fn.weight.cpu()
    with torch.no_grad():
        loss = nn.functional.cross_entropy(
            logits, labels.cpu(), weight=weight, label_smoothing=loss_fn.label_smoothing
        ).item()
    labels = labels.cpu()
    return EpochStats(loss, (logits.argmax(1) == labels).float().mean().item())


def fit(
    *,
    config: LoopConfig,
    stage: str,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LrScheduler,
    run_epoch: Callable[[int], EpochStats],
    evaluate: Callable[[], EpochStats],
    state: FitState,
    checkpoints: CheckpointStore | None,
    report: Report,
) -> FitState:
    """Run epochs ``state.epoch + 1 .. config.epochs``; ``module`` is what the checkpoint saves and early
    stopping restores (the head in quick mode, the whole network when fine-tuning); no ``checkpoints``:
    nothing is saved (the fine-tuning probe)."""
    last_report = 0.0
    counter = PhaseCounter(report, phase="training", total=config.epochs, unit="epochs", done=state.epoch)
    for epoch in range(state.epoch + 1, config.epochs + 1):
        if state.stopped_early:
            break
        started = time.perf_counter()
        train = run_epoch(epoch)
        val = evaluate()
        scheduler.end_epoch(val.loss)
        row = {
            "epoch": epoch,
            "epochs": config.epochs,
            "stage": stage,
            "train_loss": train.loss,
            "train_acc": train.accuracy,
            "val_loss": val.loss,
            "val_acc": val.accuracy,
            "lr": scheduler.head_lr,
            "seconds": round(time.perf_counter() - started, 3),
        }
        state.history.append(row)
        state.epoch = epoch
        _track_best(state, module, config, val.accuracy)
        if checkpoints is not None:
            checkpoints.save(
                module=module, optimizer=optimizer, scheduler=scheduler, config=config, state=state
            )
        counter.update(config.epochs if state.stopped_early else epoch)
        now = time.monotonic()
        if now - last_report >= EPOCH_REPORT_INTERVAL_S or epoch == config.epochs or state.stopped_early:
            report(EpochEvent(**row))
            log.info(
                "%s epoch %d/%d: train loss %.4f, val loss %.4f, val accuracy %.4f",
                stage,
                epoch,
                config.epochs,
                train.loss,
                val.loss,
                val.accuracy,
            )
            last_report = now
    if state.stopped_early and state.best_weights is not None:
        module.load_state_dict(state.best_weights)
    return state


def _track_best(state: FitState, module: nn.Module, config: LoopConfig, accuracy: float) -> None:
    rule = config.early_stopping
    if rule is None:
        return
    if accuracy > state.best_accuracy + rule.min_delta:
        state.best_accuracy, state.best_epoch, state.bad_epochs = accuracy, state.epoch, 0
        state.best_weights = copy.deepcopy({k: v.detach().cpu() for k, v in module.state_dict().items()})
    else:
        state.bad_epochs += 1
        state.stopped_early = state.bad_epochs >= rule.patience
