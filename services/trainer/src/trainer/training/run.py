"""``run_training``: one image training run from a ``TrainingSpec`` to its artifacts in the store."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common.contracts import ModelCard, TrainingSpec
from common.imaging import Preprocessing, normalize
from common.store import ObjectStore

from trainer.training.artifacts import put_json, write_reports
from trainer.training.checkpoint import CheckpointStore
from trainer.training.config import parse_config
from trainer.training.context import TrainingContext, class_weights, make_loss
from trainer.training.data import ImageSet, eval_batch, load_image_set
from trainer.training.device import Device, select_device
from trainer.training.export import check_onnx, export_onnx
from trainer.training.features import feature_cache_key, load_or_compute_features
from trainer.training.finetune import train_finetune
from trainer.training.loop import FitState, score
from trainer.training.models import ImageClassifier, build_classifier, preprocessing_for
from trainer.training.quick import train_head
from trainer.training.result import TrainingResult
from trainer.training.weights import default_weights_dir, weights_file_name

MODES: dict[str, Callable[[TrainingContext, dict[str, np.ndarray]], FitState]] = {
    "quick": train_head,
    "finetune": train_finetune,
}
FINAL_BATCH = 64


def run_training(
    spec: TrainingSpec,
    *,
    store: ObjectStore,
    report: Callable[[dict], None],
    weights_dir: Path | None = None,
) -> TrainingResult:
    """Train, evaluate, export and check; every artifact is in the store (the model card last) on return.

    Resumes from ``<output_prefix>checkpoint.pt`` when a previous attempt of the same config left one.
    Raises ``TrainingError`` subclasses for failures a person can fix, ``ValidationError`` for a bad config.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    config = parse_config(spec.config)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    device = select_device(mixed_precision=config.mixed_precision)

    report({"type": "phase", "phase": "loading"})
    image_set = load_image_set(
        store=store, manifest_key=spec.manifest_key, val_fraction=config.data_split, seed=config.seed
    )
    model, built = build_classifier(
        config.backbone,
        num_classes=len(image_set.classes),
        dropout=config.dropout,
        store=store,
        weights_dir=weights_dir or default_weights_dir(),
    )
    model.to(device.torch, memory_format=torch.channels_last)
    prep = preprocessing_for(built, image_size=config.image_size, resize=config.resize)
    weights = class_weights(config, image_set.class_counts(image_set.train))
    ctx = TrainingContext(
        config=config,
        image_set=image_set,
        model=model,
        prep=prep,
        device=device,
        generator=generator,
        checkpoints=CheckpointStore(store=store, output_prefix=spec.output_prefix, generator=generator),
        report=report,
        loss_fn=make_loss(config, weights, device),
        class_weights=weights,
    )
    timings["loading"] = _lap(clock)

    views = ["center", "flip"] if config.hflip_features else ["center"]
    weights_id = weights_file_name(config.backbone) or f"random-seed{config.seed}"
    key = feature_cache_key(
        dataset_id=spec.dataset_id, backbone=config.backbone, prep=prep, views=views, weights=weights_id
    )
    started = time.perf_counter()
    features: dict[str, np.ndarray] = {}
    if config.mode == "quick" or config.probe_epochs:  # fine-tuning without a probe needs none
        features = load_or_compute_features(
            store=store,
            key=key,
            model=model,
            image_set=image_set,
            prep=prep,
            views=views,
            device=device,
            report=report,
        )
    timings["features"] = _lap(started)

    report(
        {
            "type": "phase",
            "phase": "training",
            "mode": config.mode,
            "epochs": config.epochs,
            "device": device.torch.type,
        }
    )
    started = time.perf_counter()
    state = MODES[config.mode](ctx, features)
    timings["training"] = _lap(started)

    report({"type": "phase", "phase": "export"})
    return _finish(spec, store=store, ctx=ctx, state=state, timings=timings, feature_key=key)


def _lap(start: float) -> float:
    return time.perf_counter() - start


def final_logits(model: ImageClassifier, inputs: np.ndarray, device: Device) -> np.ndarray:
    """float32 logits without autocast: what the exported model must reproduce."""
    model.eval()
    with torch.inference_mode():
        chunks = [
            model(
                torch.from_numpy(inputs[s : s + FINAL_BATCH])
                .to(device.torch)
                .contiguous(memory_format=torch.channels_last)
            )
            .float()
            .cpu()
            .numpy()
            for s in range(0, len(inputs), FINAL_BATCH)
        ]
    return np.concatenate(chunks)


def _finish(
    spec: TrainingSpec,
    *,
    store: ObjectStore,
    ctx: TrainingContext,
    state: FitState,
    timings: dict[str, float],
    feature_key: str,
) -> TrainingResult:
    started = time.perf_counter()
    config, image_set, prep, prefix = ctx.config, ctx.image_set, ctx.prep, spec.output_prefix
    val_pixels = eval_batch(image_set.images, image_set.val, resize=prep.resize, size=prep.input_size)
    inputs = normalize(val_pixels, prep)
    labels = image_set.labels[image_set.val]
    logits = final_logits(ctx.model, inputs, ctx.device)
    final = score(torch.from_numpy(logits), torch.from_numpy(labels), ctx.loss_fn)

    onnx_model = export_onnx(ctx.model, input_size=prep.input_size)
    onnx_check = check_onnx(onnx_model, torch_logits=logits, inputs=inputs)
    timings["export"] = _lap(started)

    keys = write_reports(
        store=store,
        prefix=prefix,
        classes=image_set.classes,
        history=state.history,
        labels=labels,
        logits=logits,
        val_pixels=val_pixels,
        seed=config.seed,
    )
    summary = {
        "val_accuracy": final.accuracy,
        "val_loss": final.loss,
        "epochs_completed": state.epoch,
        "stopped_early": state.stopped_early,
        "best_epoch": state.best_epoch if config.early_stopping else None,
        "onnx_top1_agreement": onnx_check.top1_agreement,
        "onnx_max_abs_logit_diff": onnx_check.max_abs_logit_diff,
    }
    metrics = {
        **summary,
        "history": state.history,
        "probe_history": ctx.probe_history,
        "feature_cache_key": feature_key,
        "class_counts": _class_counts(image_set),
        "class_weights": ctx.class_weights,
        "device": ctx.device.torch.type,
        "autocast": str(ctx.device.autocast_dtype) if ctx.device.autocast_dtype else None,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }
    keys["metrics.json"] = put_json(store, prefix + "metrics.json", metrics)
    keys["model.pt"] = _put_model_pt(store, prefix + "model.pt", ctx, prep)
    keys["model.onnx"] = prefix + "model.onnx"
    store.put_bytes(keys["model.onnx"], onnx_model)
    keys["checkpoint.pt"] = ctx.checkpoints.key
    card = ModelCard(
        classes=image_set.classes,
        input_size=prep.input_size,
        resize=prep.resize,
        mean=list(prep.mean),
        std=list(prep.std),
        backbone=config.backbone,
        mode=config.mode,
        hyperparameters=config.model_dump(mode="json"),
        metrics={**summary, "history": state.history},
        val_accuracy=final.accuracy,
        created_at=datetime.now(UTC),
        run_id=spec.run_id,
        dataset_id=spec.dataset_id,
        onnx_input="input",
        onnx_output="logits",
        preprocessing="RGB; shorter side to `resize` (PIL bilinear); centre crop `input_size`; "
        "/255; (x-mean)/std; CHW",
    )
    # The card goes last: its presence means the run's artifacts are complete.
    keys["model_card.json"] = prefix + "model_card.json"
    store.put_bytes(
        keys["model_card.json"], card.model_dump_json(indent=2).encode(), content_type="application/json"
    )
    return TrainingResult(
        val_accuracy=final.accuracy,
        epochs_completed=state.epoch,
        onnx_key=keys["model.onnx"],
        card_key=keys["model_card.json"],
        artifacts=keys,
        onnx_max_abs_logit_diff=onnx_check.max_abs_logit_diff,
        onnx_top1_agreement=onnx_check.top1_agreement,
    )


def _class_counts(image_set: ImageSet) -> dict[str, dict[str, int]]:
    return {
        split: dict(zip(image_set.classes, image_set.class_counts(indices), strict=True))
        for split, indices in (("train", image_set.train), ("val", image_set.val))
    }


def _put_model_pt(store: ObjectStore, key: str, ctx: TrainingContext, prep: Preprocessing) -> str:
    """State dict and plain metadata only, so ``torch.load(..., weights_only=True)`` reads it."""
    state = {k: v.detach().cpu().contiguous() for k, v in ctx.model.state_dict().items()}
    payload: dict[str, Any] = {
        "state_dict": state,
        "classes": ctx.image_set.classes,
        "backbone": ctx.config.backbone,
        "mode": ctx.config.mode,
        "preprocessing": prep.as_dict(),
        "config": ctx.config.model_dump(mode="json"),
        "format": "trainer.training.models.ImageClassifier",
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    store.put_bytes(key, buffer.getvalue())
    return key
