"""Quick mode end to end on the shapes set, and everything a run leaves in the store."""

from __future__ import annotations

import io
import json

import numpy as np
import onnx
import pytest
import torch
from common.contracts import ModelCard
from common.imaging import Preprocessing, preprocess
from trainer.training import run_training
from trainer.training.core.export import onnx_logits
from trainer.training.image.preprocessing import decode_rgb

ARTIFACTS = [
    "metrics.json",
    "curves.png",
    "confusion_matrix.png",
    "confusion_matrix.json",
    "per_class.json",
    "grid_correct.png",
    "grid_incorrect.png",
    "model.pt",
    "model.onnx",
    "model_card.json",
    "data_issues.json",
    "data_issues.png",
]


def test_quick_run_learns_the_shapes_and_stops_when_the_head_converged(quick_run):
    assert quick_run.result.val_accuracy >= 0.8
    last = quick_run.events.of("epoch")[-1]
    assert last["converged"] is True
    assert quick_run.result.epochs_completed == last["epoch"] == last["epochs"] < 200


def test_every_artifact_is_in_the_store_under_the_run_prefix(quick_run):
    assert sorted(quick_run.result.artifacts) == sorted(ARTIFACTS)
    for name, key in quick_run.result.artifacts.items():
        assert key == f"runs/quick-1/{name}" and quick_run.store.exists(key)


def test_events_are_phases_then_epochs_in_order(quick_run):
    phases = [e["phase"] for e in quick_run.events if e["type"] == "phase"]
    assert phases[:3] == ["loading", "features", "training"]
    assert phases[-2:] == ["export", "artifacts"]
    # Every phase counts to its end (images decoded, images through the backbone, steps).
    finished = {
        (e["phase"], e["unit"])
        for e in quick_run.events
        if e["type"] == "progress" and e["done"] == e["total"]
    }
    assert {
        ("loading", "images"),
        ("features", "images"),
        ("export", "steps"),
        ("artifacts", "steps"),
    } <= finished
    last_epoch = quick_run.events.of("epoch")[-1]
    assert {"epoch", "epochs", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"} <= set(last_epoch)
    assert last_epoch["epoch"] == last_epoch["epochs"] == quick_run.result.epochs_completed
    json.dumps(list(quick_run.events))


def test_metrics_json_has_every_iteration_up_to_convergence(quick_run):
    metrics = json.loads(quick_run.store.get_bytes("runs/quick-1/metrics.json"))
    iterations = quick_run.result.epochs_completed
    assert [row["epoch"] for row in metrics["history"]] == list(range(1, iterations + 1))
    assert metrics["history"][-1]["train_loss"] < metrics["history"][0]["train_loss"]
    assert metrics["val_accuracy"] == quick_run.result.val_accuracy
    assert metrics["data_issues"] is not None


def test_model_card_describes_the_inference_transform(quick_run):
    card = ModelCard.model_validate_json(quick_run.store.get_bytes(quick_run.result.card_key))
    assert (
        card.preprocessing.input_size,
        card.preprocessing.resize,
        card.preprocessing.mean,
        card.preprocessing.std,
    ) == (64, 73, [0.5] * 3, [0.5] * 3)
    assert card.classes == ["circle", "square", "triangle"]
    assert (card.backbone, card.mode, card.run_id, card.dataset_id) == (
        "efficientnet_lite0",
        "quick",
        "quick-1",
        "ds-shapes",
    )
    assert card.hyperparameters["head"] == "lbfgs"


def test_model_card_says_what_a_person_needs_before_using_the_model(quick_run):
    card = ModelCard.model_validate_json(quick_run.store.get_bytes(quick_run.result.card_key))
    assert card.dataset_name == "shapes"
    assert card.class_counts == {
        "train": {"circle": 9, "square": 9, "triangle": 9},
        "val": {"circle": 3, "square": 3, "triangle": 3},
    }
    assert set(card.per_class) == {"circle", "square", "triangle"}
    assert {"precision", "recall", "f1", "support"} <= set(card.per_class["circle"])
    assert "'shapes'" in card.intended_use and "27" in card.intended_use
    assert any("always answers one of its 3 classes" in line for line in card.limitations)
    assert {"python", "torch", "onnxruntime", "trainyard-trainer"} <= set(card.software)


def test_data_issues_are_written_for_the_user_to_review(quick_run):
    report = json.loads(quick_run.store.get_bytes("runs/quick-1/data_issues.json"))
    assert "exclude" in report["how_to_use"]
    assert set(report["counts"]) == {"mislabelled", "placeholder", "blank", "outlier"}
    from PIL import Image

    grid = Image.open(io.BytesIO(quick_run.store.get_bytes("runs/quick-1/data_issues.png")))
    assert grid.width >= 300  # sized to its content, at least wide enough for its message


def test_model_pt_loads_with_weights_only(quick_run):
    payload = torch.load(io.BytesIO(quick_run.store.get_bytes("runs/quick-1/model.pt")), weights_only=True)
    assert payload["classes"] == ["circle", "square", "triangle"]
    assert payload["state_dict"]["head.weight"].shape[0] == 3


def test_onnx_model_has_a_dynamic_batch_and_matches_pytorch(quick_run):
    model = onnx.load_from_string(quick_run.store.get_bytes(quick_run.result.onnx_key))
    (graph_input,), (graph_output,) = model.graph.input, model.graph.output
    assert (graph_input.name, graph_output.name) == ("input", "logits")
    assert graph_input.type.tensor_type.shape.dim[0].dim_param
    assert quick_run.result.onnx_top1_agreement == 1.0
    assert quick_run.result.onnx_max_abs_logit_diff < 1e-3


def test_onnx_model_served_with_the_card_transform_reproduces_validation_accuracy(quick_run):
    """What the inference service will do: numpy preprocessing from the card, ONNX Runtime, argmax."""
    from common.contracts import DatasetManifest

    store = quick_run.store
    card = ModelCard.model_validate_json(store.get_bytes(quick_run.result.card_key))
    manifest = DatasetManifest.model_validate_json(store.get_bytes("datasets/ds-shapes/manifest.json"))
    pack = store.get_bytes(manifest.pack_key)
    prep = Preprocessing.from_card(card)
    val = manifest.split_items("val")
    x = np.stack([preprocess(decode_rgb(pack[i.offset : i.offset + i.length]), prep) for i in val])
    predicted = onnx_logits(store.get_bytes(quick_run.result.onnx_key), {"input": x}).argmax(1)
    accuracy = np.mean([card.classes[p] == item.label for p, item in zip(predicted, val, strict=True)])
    assert accuracy == pytest.approx(quick_run.result.val_accuracy)


def test_second_run_reuses_the_feature_cache_and_the_exported_backbone(quick_run, spec_for):
    first = quick_run.events.of("phase", "features")[0]
    assert first["cached"] is False and quick_run.store.exists(first["key"])
    backbones = [key for key in quick_run.store.list("pretrained/onnx/") if key.endswith(".onnx")]
    assert len(backbones) == 1 and "efficientnet_lite0" in backbones[0]
    assert quick_run.store.exists(backbones[0].removesuffix(".onnx") + ".json")  # prepared
    events = type(quick_run.events)()
    run_training(spec_for("quick-2", head_c=1.0), store=quick_run.store, report=events)
    (second,) = events.of("phase", "features")
    assert (second["cached"], second["key"]) == (True, first["key"])
    # The first run prepared the backbone (graph, state dict): the second one needs no torch.
    metrics = json.loads(quick_run.store.get_bytes("runs/quick-2/metrics.json"))
    assert metrics["engine"] == "onnxruntime"


def test_a_different_image_size_gets_its_own_feature_cache(quick_run, spec_for):
    events = type(quick_run.events)()
    run_training(spec_for("quick-3", epochs=1, image_size=96), store=quick_run.store, report=events)
    (features,) = events.of("phase", "features")
    assert features["cached"] is False and "-96-" in features["key"]


def test_scratch_backbone_trains_without_any_weights(store, events, spec_for):
    result = run_training(spec_for("scratch-1", backbone="scratch"), store=store, report=events)
    assert result.epochs_completed >= 1 and result.onnx_top1_agreement == 1.0
    assert not list(store.list("pretrained/onnx/"))  # random weights: nothing worth caching


def test_sgd_head_resumes_from_its_checkpoint_and_continues_the_epoch_count(store, events, spec_for):
    class Crash(Exception):
        pass

    def crash_after_first_epoch(event) -> None:
        if event.type == "epoch":
            raise Crash

    spec = spec_for("resume-q", head="sgd", epochs=3)
    with pytest.raises(Crash):
        run_training(spec, store=store, report=crash_after_first_epoch)
    result = run_training(spec, store=store, report=events)
    assert events.of("phase", "training")[-1]["resumed_from_epoch"] == 1
    assert [e["epoch"] for e in events.of("epoch")] == [2, 3]
    assert result.epochs_completed == 3
    metrics = json.loads(store.get_bytes("runs/resume-q/metrics.json"))
    assert [row["epoch"] for row in metrics["history"]] == [1, 2, 3]


def test_excluded_images_leave_both_splits(store, events, spec_for):
    excluded = ["circle/000.jpg", "square/005.jpg"]  # one validation image, one training image
    run_training(spec_for("exclude-1", exclude=excluded), store=store, report=events)

    metrics = json.loads(store.get_bytes("runs/exclude-1/metrics.json"))
    assert metrics["class_counts"]["val"]["circle"] == 2 and metrics["class_counts"]["train"]["square"] == 8
    assert metrics["excluded"] == 2
    issues = json.loads(store.get_bytes("runs/exclude-1/data_issues.json"))
    assert not {i["source"] for i in issues["issues"]} & set(excluded)


def test_excluding_a_file_the_set_does_not_have_fails_with_its_name(store, events, spec_for):
    from trainer.training.errors import DatasetUnusable

    with pytest.raises(DatasetUnusable, match="not in data set.*'circle/999.jpg'"):
        run_training(spec_for("exclude-2", exclude=["circle/999.jpg"]), store=store, report=events)
