"""Backbones as an ordered list of stages (stem ... last block, pooling), and the classifier around them.

Stages let fine-tuning freeze a prefix of the network (run without autograd) and give earlier
stages smaller learning rates.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from common.imaging import Preprocessing
from common.store import ObjectStore
from torch import nn

from trainer.training.image.feature_norm import EPS as NORM_EPS
from trainer.training.image.feature_norm import FeatureNorm as FeatureNormKind
from trainer.training.image.preprocessing import HALF, IMAGENET_MEAN, IMAGENET_STD
from trainer.training.image.weights import locate_weights


class FeatureNorm(nn.Module):
    """``feature_norm.normalise`` in torch (no parameters: ``model.pt``'s state dict is unchanged)."""

    def __init__(self, kind: FeatureNormKind) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "none":
            return x
        return torch.sign(x) * (torch.sqrt(x.abs() + NORM_EPS) - NORM_EPS**0.5)

    def extra_repr(self) -> str:
        return self.kind


class ImageClassifier(nn.Module):
    """stages (frozen prefix without autograd) -> pooled features -> feature norm -> dropout -> linear
    head -> logits."""

    def __init__(
        self,
        stages: list[nn.Module],
        feature_dim: int,
        num_classes: int,
        dropout: float,
        feature_norm: FeatureNormKind = "none",
    ) -> None:
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.norm = FeatureNorm(feature_norm)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(feature_dim, num_classes)
        self.frozen_stages = 0
        # Fine-tuning a pretrained network on a few hundred images keeps its batch-norm statistics:
        # re-estimated from small batches of augmented crops they drift from what the weights expect.
        self.keep_norm_statistics = False

    def features(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            for stage in self.stages[: self.frozen_stages]:
                x = stage(x)
        for stage in self.stages[self.frozen_stages :]:
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.norm(self.features(x))))

    def freeze_stages(self, count: int) -> None:
        """Freeze the first ``count`` stages: no gradients, batch-norm statistics kept (eval mode)."""
        self.frozen_stages = count
        for i, stage in enumerate(self.stages):
            stage.requires_grad_(i >= count)

    def train(self, mode: bool = True) -> ImageClassifier:
        super().train(mode)
        for stage in self.stages[: self.frozen_stages]:
            stage.eval()
        if self.keep_norm_statistics and mode:
            for module in self.stages.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def trainable_stage_indices(self) -> list[int]:
        """Stages holding parameters (the ones 'unfreeze the last N blocks' counts)."""
        return [i for i, stage in enumerate(self.stages) if any(True for _ in stage.parameters())]


@dataclass(frozen=True)
class Backbone:
    stages: list[nn.Module]
    feature_dim: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _pool() -> nn.Module:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))


def _efficientnet_lite(variant: int) -> Callable[[dict[str, torch.Tensor] | None], Backbone]:
    def build(state: dict[str, torch.Tensor] | None) -> Backbone:
        return _efficientnet_lite_net(f"tf_efficientnet_lite{variant}", state)

    return build


def _efficientnet_lite_net(name: str, state: dict[str, torch.Tensor] | None) -> Backbone:
    import timm

    net = timm.create_model(name, pretrained=False)
    if state is not None:
        net.load_state_dict(map_in_order(state, net.state_dict()))
    stages = [
        nn.Sequential(net.conv_stem, net.bn1),
        *net.blocks,
        nn.Sequential(net.conv_head, net.bn2),
        _pool(),
    ]
    return Backbone(stages, net.num_features, HALF, HALF)


def map_in_order(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The lite0 package names its tensors differently, in the same order as timm: zip, checking shapes."""
    if len(source) != len(target):
        raise ValueError(f"weights hold {len(source)} tensors, the model {len(target)}")
    mapped = {}
    for (src_name, tensor), (name, expected) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise ValueError(f"{src_name} {tuple(tensor.shape)} does not fit {name} {tuple(expected.shape)}")
        mapped[name] = tensor
    return mapped


def _torchvision(builder: str) -> Callable[[dict[str, torch.Tensor] | None], Backbone]:
    def build(state: dict[str, torch.Tensor] | None) -> Backbone:
        import torchvision

        net = getattr(torchvision.models, builder)(weights=None)
        if state is not None:
            net.load_state_dict(state)
        if builder.startswith("resnet"):
            stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
            stages = [stem, net.layer1, net.layer2, net.layer3, net.layer4, _pool()]
            return Backbone(stages, net.fc.in_features, IMAGENET_MEAN, IMAGENET_STD)
        if builder == "mobilenet_v3_large":
            # Its pretrained 960 -> 1280 projection after pooling is part of the features.
            neck = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), net.classifier[0], net.classifier[1])
            return Backbone(
                [*net.features, neck], net.classifier[0].out_features, IMAGENET_MEAN, IMAGENET_STD
            )
        return Backbone([*net.features, _pool()], net.last_channel, IMAGENET_MEAN, IMAGENET_STD)

    return build


BUILDERS: dict[str, Callable[[dict[str, torch.Tensor] | None], Backbone]] = {
    "efficientnet_lite0": _efficientnet_lite(0),
    "efficientnet_lite1": _efficientnet_lite(1),
    "efficientnet_lite2": _efficientnet_lite(2),
    "scratch": _efficientnet_lite(0),
    "mobilenet_v2": _torchvision("mobilenet_v2"),
    "mobilenet_v3_large": _torchvision("mobilenet_v3_large"),
    "resnet18": _torchvision("resnet18"),
    "resnet34": _torchvision("resnet34"),
    "resnet50": _torchvision("resnet50"),
}


def load_pretrained_state(
    backbone: str, *, store: ObjectStore, weights_dir: Path | None
) -> dict[str, torch.Tensor] | None:
    source = locate_weights(backbone, store=store, weights_dir=weights_dir)
    if source is None:
        return None
    raw = source.path.read_bytes() if source.path else store.get_bytes(source.store_key)
    return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)


def build_backbone(backbone: str, *, store: ObjectStore, weights_dir: Path | None) -> Backbone:
    return BUILDERS[backbone](load_pretrained_state(backbone, store=store, weights_dir=weights_dir))


def build_classifier(
    backbone: str,
    *,
    num_classes: int,
    dropout: float,
    store: ObjectStore,
    weights_dir: Path | None,
    feature_norm: FeatureNormKind = "none",
) -> tuple[ImageClassifier, Backbone]:
    built = build_backbone(backbone, store=store, weights_dir=weights_dir)
    return ImageClassifier(built.stages, built.feature_dim, num_classes, dropout, feature_norm), built


def preprocessing_for(built: Backbone, *, image_size: int, resize: int) -> Preprocessing:
    return Preprocessing(input_size=image_size, resize=resize, mean=built.mean, std=built.std)
