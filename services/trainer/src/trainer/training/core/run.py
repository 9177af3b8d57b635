"""``train_task``: one training run, whatever the task, from a validated config to its artifacts.

Seeds, device, data, model, class weights and loss; the task trains (``core.loop.fit`` underneath);
then the final float32 evaluation, the ONNX export and its check, the reports, ``model.pt``,
``metrics.json`` and, last, the model card.
"""

from __future__ import annotations

import io
import logging
import time
from typing import Any

import numpy as np
import torch
from common.contracts import TrainingSpec
from common.events import PhaseEvent, Report
from common.store import ObjectStore
from common.training_config import ImageTrainConfig, TextTrainConfig
from torch import nn

from trainer.training.core.checkpoint import CheckpointStore
from trainer.training.core.context import TrainingContext, class_weights, make_loss
from trainer.training.core.device import Device, select_device
from trainer.training.core.export import check_onnx, export_onnx
from trainer.training.core.loop import score
from trainer.training.core.outputs import FinishedRun, write_outputs
from trainer.training.core.task import Task
from trainer.training.progress import PhaseCounter
from trainer.training.result import TrainingResult

FINAL_BATCH = 64

log = logging.getLogger(__name__)


def train_task(
    spec: TrainingSpec,
    config: ImageTrainConfig | TextTrainConfig,
    task: Task,
    *,
    store: ObjectStore,
    report: Report,
) -> TrainingResult:
    """Train, evaluate, export and check; every artifact is in the store (the model card last) on return.

    Resumes from ``<output_prefix>checkpoint.pt`` when a previous attempt of the same config left one.
    Raises ``TrainingError`` subclasses for failures a person can fix.
    """
    clock = time.perf_counter()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    device = select_device(mixed_precision=config.mixed_precision)

    report(PhaseEvent(phase="loading"))
    log.info("run %s: loading data set %s", spec.run_id, spec.dataset_id)
    data = task.load_data(report)
    model = task.build_model(data, device)
    weights = class_weights(config, data.class_counts(data.train))
    ctx = TrainingContext(
        config=config,
        data=data,
        model=model,
        device=device,
        generator=generator,
        checkpoints=CheckpointStore(store=store, output_prefix=spec.output_prefix, generator=generator),
        report=report,
        loss_fn=make_loss(config, weights, device),
        class_weights=weights,
    )
    ctx.timings["loading"] = _lap(clock)
    log.info(
        "loaded %d training and %d validation examples in %.1f s on %s",
        len(data.train),
        len(data.val),
        ctx.timings["loading"],
        device.torch.type,
    )

    started = time.perf_counter()
    state = task.train(ctx)
    ctx.timings["training"] = _lap(started) - ctx.timings.get("features", 0.0)

    report(PhaseEvent(phase="export"))
    steps = PhaseCounter(report, phase="export", total=3, unit="steps")  # logits, ONNX, its check
    started = time.perf_counter()
    feeds = task.eval_inputs(ctx)
    labels = data.labels[data.val]
    own = task.final_model(ctx) if hasattr(task, "final_model") else None
    if own is None:
        logits = final_logits(ctx.model, feeds, device)
        steps.advance()
        onnx_model = export_onnx(ctx.model, task.export_inputs(ctx))
    else:
        logits, onnx_model = own.logits, own.onnx
        steps.advance()
    steps.update(2)
    final = score(torch.from_numpy(logits), torch.from_numpy(labels), ctx.loss_fn)
    onnx_check = check_onnx(onnx_model, torch_logits=logits, feeds=feeds)
    steps.advance()
    ctx.timings["export"] = _lap(started)
    log.info("exported ONNX: top-1 agreement %.4f with PyTorch", onnx_check.top1_agreement)

    report(PhaseEvent(phase="artifacts"))
    steps = PhaseCounter(report, phase="artifacts", total=2, unit="steps")  # the examples, then the rest
    keys = task.write_examples(store=store, prefix=spec.output_prefix, ctx=ctx, labels=labels, logits=logits)
    steps.advance()
    finished = FinishedRun(
        config=config,
        data=data,
        labels=labels,
        logits=logits,
        val_loss=final.loss,
        val_accuracy=final.accuracy,
        history=state.history,
        probe_history=ctx.probe_history,
        epochs_completed=state.epoch,
        stopped_early=state.stopped_early,
        best_epoch=state.best_epoch if config.early_stopping or state.best_accuracy >= 0 else None,
        onnx_model=onnx_model,
        onnx_check=onnx_check,
        onnx_input=",".join(feeds),
        outputs=task.outputs(ctx),
        model_pt=b"",
        card_preprocessing=task.card_preprocessing(ctx),
        class_weights=ctx.class_weights,
        device=device.torch.type,
        autocast=str(device.autocast_dtype) if device.autocast_dtype else None,
        timings=ctx.timings,
        # A head fitted in one go (quick, L-BFGS) saves no checkpoint.
        checkpoint_key=ctx.checkpoints.key if store.exists(ctx.checkpoints.key) else None,
    )
    finished.model_pt = _model_pt(ctx, finished.outputs.model_pt)
    result = write_outputs(spec, finished, store=store, keys=keys)
    steps.advance()
    log.info("run %s: validation accuracy %.4f; artifacts written", spec.run_id, final.accuracy)
    return result


def _lap(start: float) -> float:
    return time.perf_counter() - start


def final_logits(model: nn.Module, feeds: dict[str, np.ndarray], device: Device) -> np.ndarray:
    """float32 logits without autocast, in batches: what the exported model must reproduce."""
    model.eval()
    n = len(next(iter(feeds.values())))
    with torch.inference_mode():
        chunks = [
            model(*(torch.from_numpy(v[s : s + FINAL_BATCH]).to(device.torch) for v in feeds.values()))
            .float()
            .cpu()
            .numpy()
            for s in range(0, n, FINAL_BATCH)
        ]
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)


def _model_pt(ctx: TrainingContext, extra: dict[str, Any]) -> bytes:
    """State dict and plain metadata only, so ``torch.load(..., weights_only=True)`` reads it."""
    state = {k: v.detach().cpu().contiguous() for k, v in ctx.model.state_dict().items()}
    payload: dict[str, Any] = {
        "state_dict": state,
        "classes": ctx.data.classes,
        "task": ctx.config.task,
        "config": ctx.config.model_dump(mode="json"),
        **extra,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()
