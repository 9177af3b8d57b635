"""Finetune mode: linear probe from the feature cache, then the network on augmented images; resume."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from common.training_config import ImageTrainConfig
from torch import nn
from trainer.training import run_training
from trainer.training.core.export import onnx_logits
from trainer.training.image.finetune import unfreeze
from trainer.training.image.models import ImageClassifier


class Crash(Exception):
    pass


def crash_at_first_epoch(event) -> None:
    if event.type == "epoch":
        raise Crash


def test_finetune_probes_then_trains_the_last_blocks(store, events, spec_for):
    spec = spec_for(
        "ft-1", mode="finetune", epochs=1, probe_epochs=3, unfreeze_blocks=2, trivial_augment=True
    )
    result = run_training(spec, store=store, report=events)
    (probe,) = events.of("phase", "probe")
    assert probe["epochs"] >= 1  # L-BFGS iterations to convergence
    assert result.epochs_completed == 1 and result.onnx_top1_agreement == 1.0
    metrics = json.loads(store.get_bytes("runs/ft-1/metrics.json"))
    assert {row["stage"] for row in metrics["probe_history"]} == {"probe"}
    # The probe-initialised network is evaluated as epoch 0, so the curves show where tuning starts.
    assert [(row["stage"], row["epoch"]) for row in metrics["history"]] == [("probe", 0), ("finetune", 1)]


def test_finetune_never_ends_below_the_probe_it_starts_from(store, events, spec_for):
    # A learning rate that wrecks the network: the run must keep the probe's weights (epoch 0).
    spec = spec_for(
        "ft-wreck", mode="finetune", epochs=2, optimizer="sgd", learning_rate=8.0, unfreeze_blocks="all"
    )
    result = run_training(spec, store=store, report=events)
    metrics = json.loads(store.get_bytes("runs/ft-wreck/metrics.json"))
    start = metrics["history"][0]
    assert start["epoch"] == 0
    assert result.val_accuracy >= start["val_acc"]
    assert min(row["val_acc"] for row in metrics["history"][1:]) < start["val_acc"]  # the wreck happened
    (kept,) = events.of("phase", "kept_best")
    assert metrics["best_epoch"] == kept["epoch"]


def test_a_finetune_that_only_gets_worse_keeps_the_quick_model_it_started_from(store, events, spec_for):
    # Fine-tuning trains on the raw pooled features (its default), the quick model uses their signed
    # square root: the run starts from the quick model (epoch 0) and, when no epoch beats it, keeps it.
    quick = run_training(spec_for("q-ref", epochs=1), store=store, report=type(events)())
    wrecked = run_training(
        spec_for(
            "ft-keep", mode="finetune", epochs=2, optimizer="sgd", learning_rate=8.0, unfreeze_blocks="all"
        ),
        store=store,
        report=events,
    )

    assert wrecked.val_accuracy >= quick.val_accuracy
    metrics = json.loads(store.get_bytes("runs/ft-keep/metrics.json"))
    assert metrics["best_epoch"] == 0 and metrics["feature_norm"] == "sqrt"
    payload = torch.load(io.BytesIO(store.get_bytes(wrecked.artifacts["model.pt"])), weights_only=True)
    assert payload["feature_norm"] == "sqrt" and payload["config"]["feature_norm"] == "none"
    x = np.random.default_rng(0).normal(size=(4, 3, 64, 64)).astype(np.float32)
    np.testing.assert_allclose(
        onnx_logits(store.get_bytes(wrecked.onnx_key), {"input": x}),
        onnx_logits(store.get_bytes(quick.onnx_key), {"input": x}),
        atol=1e-3,
    )


def test_finetune_probe_reuses_the_quick_feature_cache(store, events, spec_for):
    quick, finetune = type(events)(), type(events)()
    run_training(spec_for("q", epochs=1), store=store, report=quick)
    run_training(
        spec_for("f", mode="finetune", epochs=1, probe_epochs=1, unfreeze_blocks=1),
        store=store,
        report=finetune,
    )
    features = [[e for e in log if e.get("phase") == "features"][0] for log in (quick, finetune)]
    assert features[0]["key"] == features[1]["key"] and features[1]["cached"] is True


def test_scratch_finetunes_the_whole_network(store, events, spec_for):
    spec = spec_for(
        "ft-scratch", backbone="scratch", mode="finetune", epochs=1, probe_epochs=0, unfreeze_blocks=1
    )
    result = run_training(spec, store=store, report=events)
    assert result.epochs_completed == 1
    assert events.of("phase", "features") == []  # no probe, no features to compute


def test_finetune_resumes_from_its_checkpoint_without_probing_again(store, events, spec_for):
    spec = spec_for("ft-resume", mode="finetune", epochs=2, probe_epochs=2, unfreeze_blocks=1)
    with pytest.raises(Crash):
        run_training(spec, store=store, report=crash_at_first_epoch)
    result = run_training(spec, store=store, report=events)
    assert events.of("phase", "probe") == []
    assert events.of("phase", "training")[-1]["resumed_from_epoch"] == 1
    assert [e["epoch"] for e in events.of("epoch")] == [2]
    assert result.epochs_completed == 2


def test_a_checkpoint_of_another_config_is_ignored(store, events, spec_for):
    with pytest.raises(Crash):
        run_training(spec_for("other", head="sgd", epochs=3), store=store, report=crash_at_first_epoch)
    run_training(spec_for("other", head="sgd", epochs=2), store=store, report=events)
    assert [e["epoch"] for e in events.of("epoch")][0] == 1
    assert all("resumed_from_epoch" not in e for e in events.of("phase", "training"))


def test_early_stopping_stops_and_keeps_the_best_epoch(store, events, spec_for):
    spec = spec_for(
        "early", head="sgd", epochs=40, learning_rate=1e-6, early_stopping={"patience": 2, "min_delta": 0.5}
    )
    result = run_training(spec, store=store, report=events)
    metrics = json.loads(store.get_bytes("runs/early/metrics.json"))
    assert result.epochs_completed == 3 and metrics["stopped_early"] is True and metrics["best_epoch"] == 1


def tiny_classifier() -> ImageClassifier:
    stages = [
        nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()),
        nn.Sequential(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4), nn.ReLU()),
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1)),
    ]
    return ImageClassifier(stages, 4, 2, dropout=0.0)


@pytest.mark.parametrize("keep", [True, False])
def test_kept_norm_statistics_stay_while_the_blocks_learn(keep):
    model = tiny_classifier()
    model.freeze_stages(1)
    model.keep_norm_statistics = keep
    norm = model.stages[1][1]
    before = norm.running_mean.clone()

    model.train()
    model(torch.rand(8, 3, 12, 12) * 5).sum().backward()

    assert torch.equal(norm.running_mean, before) is keep
    assert norm.weight.grad is not None  # scale and shift still learn either way


@pytest.mark.parametrize(
    ("backbone", "freeze_bn_stats", "kept"),
    [("efficientnet_lite0", True, True), ("efficientnet_lite0", False, False), ("scratch", True, False)],
)
def test_finetune_keeps_pretrained_norm_statistics_unless_asked_or_from_scratch(
    backbone, freeze_bn_stats, kept
):
    config = ImageTrainConfig(mode="finetune", backbone=backbone, freeze_bn_stats=freeze_bn_stats)
    model = tiny_classifier()
    unfreeze(SimpleNamespace(model=model, config=config))
    assert model.keep_norm_statistics is kept
