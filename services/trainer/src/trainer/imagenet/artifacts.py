"""The end of an ImageNet run launched as a platform run: ``model.onnx`` + ``model_card.json`` (last).

The trainer's queue settles a run as succeeded when its model card exists and registers the model with
the inference service, so a ResNet-50 trained here is served by token like any other model. The ONNX
check feeds validation images through ``common.imaging`` (the transform the inference service uses)
and requires ONNX Runtime to pick PyTorch's top-1 class on each.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from common.contracts import ImageCardPreprocessing, ModelCard
from common.imaging import Preprocessing, preprocess
from common.store import ObjectStore
from PIL import Image
from torch import nn

from trainer.imagenet.config import ImageNetTrainConfig
from trainer.imagenet.data import CROP_RATIO, MEAN, STD
from trainer.training.core.export import check_onnx, export_onnx
from trainer.training.core.task import ExportInputs
from trainer.training.result import TrainingResult

CHECK_IMAGES = 32


def card_preprocessing(config: ImageNetTrainConfig) -> Preprocessing:
    return Preprocessing(
        input_size=config.eval_res, resize=round(config.eval_res / CROP_RATIO), mean=MEAN, std=STD
    )


def _check_feeds(data_dir: Path, prep: Preprocessing) -> np.ndarray:
    files = sorted((data_dir / "val").rglob("*.JPEG"))
    arrays = []
    for path in files[:: max(1, len(files) // CHECK_IMAGES)][:CHECK_IMAGES]:
        with Image.open(path) as image:
            arrays.append(preprocess(image.convert("RGB"), prep))
    return np.stack(arrays) if arrays else np.zeros((0, 3, prep.input_size, prep.input_size), np.float32)


def write_model_artifacts(
    model: nn.Module,
    *,
    config: ImageNetTrainConfig,
    classes: list[str],
    result: dict,
    store: ObjectStore,
    run_id: str,
    dataset_id: str,
) -> TrainingResult:
    """Export, check, and write the model and its card under ``config.output_prefix``; rank 0 only."""
    prefix, prep = config.output_prefix, card_preprocessing(config)
    cpu_model = model.to("cpu", memory_format=torch.contiguous_format).float().eval()
    example = torch.zeros(1, 3, prep.input_size, prep.input_size)
    onnx_model = export_onnx(cpu_model, ExportInputs(examples=(example,), names=("input",)))
    feeds = _check_feeds(config.data_dir, prep)
    with torch.inference_mode():
        torch_logits = (
            cpu_model(torch.from_numpy(feeds)).numpy() if len(feeds) else np.zeros((0, len(classes)))
        )
    check = check_onnx(onnx_model, torch_logits=torch_logits, feeds={"input": feeds})
    store.put_bytes(prefix + "model.onnx", onnx_model)
    top1 = float(result["top1"] or 0.0)
    card = ModelCard(
        task="image",
        classes=classes,
        preprocessing=ImageCardPreprocessing(**prep.as_dict()),
        backbone=config.arch,
        mode=f"imagenet-{config.schedule}",
        hyperparameters=config.model_dump(mode="json", exclude={"data_dir"}),
        metrics={"top1": result["top1"], "top5": result["top5"], "history": result["history"]},
        val_accuracy=top1,
        created_at=datetime.now(UTC),
        run_id=run_id,
        dataset_id=dataset_id,
    )
    card_key = prefix + "model_card.json"
    store.put_bytes(card_key, card.model_dump_json(indent=2).encode(), content_type="application/json")
    return TrainingResult(
        val_accuracy=top1,
        epochs_completed=result["epochs_run"],
        onnx_key=prefix + "model.onnx",
        card_key=card_key,
        artifacts={"model.onnx": prefix + "model.onnx", "model_card.json": card_key},
        onnx_max_abs_logit_diff=check.max_abs_logit_diff,
        onnx_top1_agreement=check.top1_agreement,
    )
