"""The recipe's pieces in one process: schedules, resizing, parameter groups, checkpoints, evaluate-only."""

from __future__ import annotations

import pytest
import torch
from common.events import wire_event
from common.store import LocalStore
from pydantic import ValidationError
from trainer.imagenet import train as train_module
from trainer.imagenet.checkpoint import CheckpointMismatch, load_checkpoint, save_checkpoint
from trainer.imagenet.config import ImageNetTrainConfig, lr_factor, peak_lr, train_res
from trainer.imagenet.data import eval_transform, image_folder
from trainer.imagenet.distributed import Distributed
from trainer.imagenet.engine import build_model, param_groups
from trainer.imagenet.miniature import write_miniature
from trainer.imagenet.prepare import PrepareConfig, prepare
from trainer.imagenet.train import evaluate_only, train

CPU = Distributed(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


def config(**fields) -> ImageNetTrainConfig:
    return ImageNetTrainConfig(data_dir="/data/imagenet", **fields)


@pytest.mark.parametrize(
    ("epoch", "factor"), [(0, 1.0), (29.9, 1.0), (30, 0.1), (59.9, 0.1), (60, 0.01), (89.9, 0.01)]
)
def test_seed_schedule_divides_by_10_at_each_third(epoch, factor):
    assert lr_factor(config(schedule="seed", epochs=90), epoch) == pytest.approx(factor)


@pytest.mark.parametrize(("epoch", "factor"), [(0, 0.0), (1, 0.5), (2, 1.0), (9, 0.5), (16, 0.0)])
def test_fast_schedule_warms_up_then_decays_linearly_to_zero(epoch, factor):
    assert lr_factor(config(schedule="fast"), epoch) == pytest.approx(factor)


def test_fast_schedule_resizes_160_then_ramps_to_192_and_evaluates_at_224():
    fast = config(schedule="fast")
    sizes = [train_res(fast, e) for e in range(fast.epochs)]
    assert sizes[:12] == [160] * 12 and sizes[-3:] == [192] * 3 and set(sizes) == {160, 192}
    assert fast.eval_res == 224 and fast.test_time_flip and fast.label_smoothing == 0.1


def test_seed_schedule_trains_at_224_without_the_fast_tricks():
    seed = config()
    assert {train_res(seed, e) for e in range(seed.epochs)} == {224}
    assert (seed.label_smoothing, seed.no_bn_bias_decay, seed.test_time_flip) == (0.0, False, False)


def test_peak_lr_scales_with_the_global_batch():
    assert peak_lr(config(batch_size=256, lr_per_256=0.1), world_size=8) == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"min_res": 224, "max_res": 160}, "must not exceed max_res"),
        ({"ramp_epochs": (0.9, 0.1)}, "two fractions"),
        ({"warmup_epochs": 5, "epochs": 5}, "must be below epochs"),
        ({"arch": "vgg16"}, "resnet50"),
        ({"batch_size": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_configs_are_refused_naming_the_problem(fields, message):
    with pytest.raises(ValidationError, match=message):
        config(**fields)


def test_fast_schedule_puts_no_weight_decay_on_batch_norm_and_biases():
    model = build_model("resnet_tiny", 10)
    decay, no_decay = param_groups(model, config(schedule="fast"))
    bn_and_bias = {id(p) for n, p in model.named_parameters() if "bn" in n or n.endswith("bias")}
    bn_and_bias |= {id(p) for n, p in model.named_parameters() if "downsample.1" in n}
    assert {id(p) for p in no_decay["params"]} == bn_and_bias and no_decay["weight_decay"] == 0
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    assert len(param_groups(model, config(schedule="seed"))) == 1


def test_a_checkpoint_of_another_recipe_is_refused_not_silently_overwritten(tmp_path):
    store = LocalStore(tmp_path)
    save_checkpoint(store, config(epochs=90), {"epoch": 3})
    with pytest.raises(CheckpointMismatch, match="different epochs"):
        load_checkpoint(store, config(epochs=30))
    assert load_checkpoint(store, config(epochs=90, workers=2))["epoch"] == 3  # operational field


def test_evaluate_only_scores_the_checkpoint_with_trainings_evaluation(tmp_path):
    mini = write_miniature(tmp_path / "raw", classes=3, train_per_class=4, val_per_class=2)
    prepare(
        PrepareConfig.model_validate(
            {
                "train_tar": {"path": mini.train_tar},
                "val_tar": {"path": mini.val_tar},
                "devkit": {"ground_truth": {"path": mini.ground_truth}, "meta_mat": {"path": mini.meta_mat}},
                "output_dir": tmp_path / "data",
                "expected": {"classes": 3, "train": 12, "val": 6},
            }
        )
    )
    store, events = LocalStore(tmp_path / "store"), []
    recipe = ImageNetTrainConfig(
        data_dir=tmp_path / "data", arch="resnet_tiny", epochs=1, batch_size=4, min_res=32, max_res=32,
        eval_res=32, workers=0, target_top1=None,
    )  # fmt: skip
    result = train(recipe, store=store, report=lambda e: events.append(wire_event(e)), dist=CPU)
    scored = evaluate_only(recipe, store=store, dist=CPU)
    assert scored == {"epoch": 1, **{k: result["history"][-1][k] for k in ("top1", "top5", "val_images")}}
    assert [e["type"] for e in events] == ["phase", "imagenet_epoch"]


def test_training_stops_once_the_target_top1_is_reached(tmp_path, monkeypatch):
    mini = write_miniature(tmp_path / "raw", classes=2, train_per_class=4, val_per_class=2)
    prepare(
        PrepareConfig.model_validate(
            {
                "train_tar": {"path": mini.train_tar},
                "val_tar": {"path": mini.val_tar},
                "devkit": {"loc_val_solution": {"path": mini.loc_val_solution}},
                "output_dir": tmp_path / "data",
                "expected": {"classes": 2, "train": 8, "val": 4},
            }
        )
    )
    scores = iter([0.2, 0.59, 0.61, 0.9, 0.95])
    monkeypatch.setattr(
        train_module, "evaluate", lambda *a, **k: {"top1": next(scores), "top5": 1.0, "val_images": 4}
    )
    recipe = ImageNetTrainConfig(
        data_dir=tmp_path / "data", arch="resnet_tiny", epochs=5, batch_size=4, min_res=32, max_res=32,
        eval_res=32, workers=0, target_top1=0.6,
    )  # fmt: skip
    events: list[dict] = []
    store = LocalStore(tmp_path / "store")
    result = train(recipe, store=store, report=lambda e: events.append(wire_event(e)), dist=CPU)
    assert (result["epochs_run"], result["top1"], result["target_reached"]) == (3, 0.61, True)
    assert [e["epoch"] for e in events if e["type"] == "imagenet_epoch"] == [1, 2, 3]
    # started again (a retried Job), a run that reached its target trains no further
    again = train(recipe, store=store, report=lambda e: events.append(wire_event(e)), dist=CPU)
    assert again["epochs_run"] == 3 and again["target_reached"]


def test_training_reads_the_pre_resized_shards_like_the_folders(tmp_path):
    mini = write_miniature(tmp_path / "raw", classes=3, train_per_class=4, val_per_class=2)
    prepare(
        PrepareConfig.model_validate(
            {
                "train_tar": {"path": mini.train_tar},
                "val_tar": {"path": mini.val_tar},
                "devkit": {"loc_val_solution": {"path": mini.loc_val_solution}},
                "output_dir": tmp_path / "data",
                "expected": {"classes": 3, "train": 12, "val": 6},
                "shards": {"shorter_side": 40, "images_per_shard": 5, "workers": 1},
            }
        )
    )
    folders = image_folder(tmp_path / "data", "val", eval_transform(32))
    shards = image_folder(tmp_path / "data", "val", eval_transform(32), shards=True)
    assert sorted(shards.targets) == sorted(folders.targets) and len(shards.classes) == 3
    image, label = shards[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8 and 0 <= label < 3
    recipe = ImageNetTrainConfig(
        data_dir=tmp_path / "data", data_format="shards", arch="resnet_tiny", epochs=1, batch_size=4,
        min_res=32, max_res=32, eval_res=32, workers=1, target_top1=None,
    )  # fmt: skip
    result = train(recipe, store=LocalStore(tmp_path / "store"), report=lambda e: None, dist=CPU)
    assert result["history"][0]["val_images"] == 6
