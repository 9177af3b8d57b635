"""The image task: a data set of decoded images, a pretrained backbone with a linear head, trained
``quick`` (frozen backbone, cached features) or ``finetune`` (a probe, then the last blocks on
augmented images)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from common.contracts import ImageCardPreprocessing, TrainingSpec
from common.events import PhaseEvent, Report
from common.imaging import Preprocessing, normalize
from common.store import ObjectStore
from common.training_config import ImageTrainConfig

from trainer.training.core.context import TrainingContext
from trainer.training.core.device import Device
from trainer.training.core.loop import FitState
from trainer.training.core.task import ExportInputs, FinalModel, TaskOutputs
from trainer.training.image.backbone_onnx import (
    backbone_state,
    compose_with_head,
    is_prepared,
    load_or_export_backbone,
    pretrained_onnx_key,
    save_prepared,
)
from trainer.training.image.data import ImageSet, eval_batch, load_run_images
from trainer.training.image.data_issues import DataIssue
from trainer.training.image.feature_norm import normalise
from trainer.training.image.features import export_backbone, feature_cache_key, load_or_compute_features
from trainer.training.image.grids import write_grids
from trainer.training.image.issue_report import find_issues
from trainer.training.image.models import Backbone, ImageClassifier, build_classifier, preprocessing_for
from trainer.training.image.outputs import image_outputs
from trainer.training.image.quick import train_head
from trainer.training.image.weights import default_weights_dir, weights_file_name
from trainer.training.progress import no_report


def _train_finetune(ctx: TrainingContext, features: dict[str, np.ndarray], task: object = None) -> FitState:
    # Imported on use: its augmentation imports torchvision (~2.5 s), which a quick run never needs.
    from trainer.training.image.finetune import train_finetune

    return train_finetune(ctx, features, task)


MODES: dict[str, Callable[..., FitState]] = {"quick": train_head, "finetune": _train_finetune}


class ImageTask:
    def __init__(
        self, *, spec: TrainingSpec, config: ImageTrainConfig, store: ObjectStore, weights_dir: Path | None
    ) -> None:
        self.spec, self.config, self.store = spec, config, store
        self.weights_dir = weights_dir or default_weights_dir()
        self.prep: Preprocessing | None = None
        self.feature_key = ""
        self._val_pixels: np.ndarray | None = None
        self._backbone_graph: bytes | None = None
        self.features: dict[str, np.ndarray] = {}
        self.issues: list[DataIssue] | None = None

    def load_data(self, report: Report = no_report) -> ImageSet:
        return load_run_images(self.spec, self.config, store=self.store, report=report)

    def build_model(self, data: ImageSet, device: Device) -> ImageClassifier:
        config = self.config
        model, built = build_classifier(
            config.backbone,
            num_classes=len(data.classes),
            dropout=config.dropout,
            store=self.store,
            weights_dir=self.weights_dir,
            feature_norm=config.feature_norm,
        )
        model.to(device.torch, memory_format=torch.channels_last)
        self.built: Backbone = built
        self.prep = preprocessing_for(built, image_size=config.image_size, resize=config.resize)
        return model

    def train(self, ctx: TrainingContext) -> FitState:
        config, prep = self.config, self._prep()
        views = ["center", "flip"] if config.hflip_features else ["center"]
        weights_id = weights_file_name(config.backbone) or f"random-seed{config.seed}"
        self.feature_key = feature_cache_key(
            dataset_id=self.spec.dataset_id,
            backbone=config.backbone,
            prep=prep,
            views=views,
            weights=weights_id,
        )
        started = time.perf_counter()
        features: dict[str, np.ndarray] = {}
        if config.mode == "quick" or config.probe_epochs:  # fine-tuning without a probe needs none
            features = load_or_compute_features(
                store=self.store,
                key=self.feature_key,
                model=ctx.model,
                image_set=ctx.data,
                prep=prep,
                views=views,
                device=ctx.device,
                report=ctx.report,
                backbone_graph=lambda: self.backbone_graph(ctx),
            )
        ctx.timings["features"] = time.perf_counter() - started
        if features and config.find_data_issues:
            started = time.perf_counter()
            self.issues = find_issues(ctx.data, features["center"], seed=config.seed)
            ctx.timings["data_issues"] = time.perf_counter() - started
        ctx.report(
            PhaseEvent(phase="training", mode=config.mode, epochs=config.epochs, device=ctx.device.torch.type)
        )
        self.features = features
        return MODES[config.mode](ctx, features, self)

    def backbone_graph(self, ctx: TrainingContext) -> bytes:
        """The frozen backbone as ONNX, from the store's cache or exported (and cached) once."""
        if self._backbone_graph is None:
            key = pretrained_onnx_key(self.config.backbone, input_size=self._prep().input_size)
            self._backbone_graph, cached = load_or_export_backbone(
                store=self.store, key=key, export=lambda: export_backbone(ctx.model, self._prep())
            )
            ctx.timings["backbone_onnx_cached"] = float(cached)
            if key is not None and not is_prepared(self.store, key):  # later quick runs need no torch
                prep = self._prep()
                save_prepared(
                    self.store,
                    key,
                    state=backbone_state(ctx.model),
                    mean=prep.mean,
                    std=prep.std,
                    feature_dim=ctx.model.head.in_features,
                )
        return self._backbone_graph

    def final_model(self, ctx: TrainingContext) -> FinalModel | None:
        """Quick on CPU: the validation logits from the cached features and the backbone graph with the
        head appended, instead of an eager pass over the validation images and a full export."""
        if self.config.mode != "quick" or ctx.device.torch.type != "cpu" or not self.features:
            return None
        head = ctx.model.head
        weight = head.weight.detach().cpu().numpy()
        bias = head.bias.detach().cpu().numpy()
        norm = self.config.feature_norm
        logits = normalise(self.features["center"][ctx.data.val], norm) @ weight.T + bias
        onnx_model = compose_with_head(self.backbone_graph(ctx), weight=weight, bias=bias, feature_norm=norm)
        return FinalModel(logits=logits.astype(np.float32), onnx=onnx_model)

    def val_pixels(self, data: ImageSet) -> np.ndarray:
        """uint8 NHWC centre crops of the validation images (decoded once, used for evaluation and grids)."""
        if self._val_pixels is None:
            prep = self._prep()
            self._val_pixels = eval_batch(data.images, data.val, resize=prep.resize, size=prep.input_size)
        return self._val_pixels

    def eval_inputs(self, ctx: TrainingContext) -> dict[str, np.ndarray]:
        return {"input": normalize(self.val_pixels(ctx.data), self._prep())}

    def export_inputs(self, ctx: TrainingContext) -> ExportInputs:
        size = self._prep().input_size
        return ExportInputs(examples=(torch.zeros(1, 3, size, size),), names=("input",))

    def card_preprocessing(self, ctx: TrainingContext) -> ImageCardPreprocessing:
        prep = self._prep()
        return ImageCardPreprocessing(
            input_size=prep.input_size, resize=prep.resize, mean=list(prep.mean), std=list(prep.std)
        )

    def write_examples(
        self, *, store: ObjectStore, prefix: str, ctx: TrainingContext, labels: np.ndarray, logits: np.ndarray
    ) -> dict[str, str]:
        return write_grids(
            store=store,
            prefix=prefix,
            classes=ctx.data.classes,
            labels=labels,
            logits=logits,
            val_pixels=self.val_pixels(ctx.data),
            seed=self.config.seed,
        )

    def outputs(self, ctx: TrainingContext) -> TaskOutputs:
        return image_outputs(
            self.config,
            prep=self._prep(),
            feature_key=self.feature_key,
            issues=self.issues,
            data=ctx.data,
            feature_norm=ctx.model.norm.kind,
        )

    def _prep(self) -> Preprocessing:
        if self.prep is None:
            raise RuntimeError("build_model() sets the preprocessing; call it first")
        return self.prep
