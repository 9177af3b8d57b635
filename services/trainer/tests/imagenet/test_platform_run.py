"""A platform run of the recipe (``--spec-json``, what the queue's executors start): it ends with a
model card and an ONNX model that the inference transform (``common.imaging``) feeds correctly."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
from common.contracts import ModelCard, TrainingSpec
from common.imaging import Preprocessing, preprocess
from common.store import LocalStore
from PIL import Image
from trainer.imagenet.miniature import write_miniature
from trainer.imagenet.prepare import PrepareConfig, prepare
from trainer.training.__main__ import main


def spec_for(data: str, **recipe) -> str:
    config = {
        "task": "imagenet", "data": data, "arch": "resnet_tiny", "epochs": 1, "batch_size": 4,
        "min_res": 32, "max_res": 32, "eval_res": 32, "workers": 0, **recipe,
    }  # fmt: skip
    return TrainingSpec(
        run_id="r1", owner="alice", dataset_id="imagenet-mini", manifest_key="", output_prefix="runs/r1/",
        config=config,
    ).model_dump_json()  # fmt: skip


def test_a_platform_run_writes_a_servable_model_and_card(tmp_path, monkeypatch, capsys):
    mini = write_miniature(tmp_path / "raw", classes=3, train_per_class=4, val_per_class=2)
    prepare(
        PrepareConfig.model_validate(
            {
                "train_tar": {"path": mini.train_tar},
                "val_tar": {"path": mini.val_tar},
                "devkit": {"loc_val_solution": {"path": mini.loc_val_solution}},
                "output_dir": tmp_path / "root" / "mini",
                "expected": {"classes": 3, "train": 12, "val": 6},
            }
        )
    )
    monkeypatch.setenv("TRAINYARD_STORE_ROOT", str(tmp_path / "store"))
    monkeypatch.setenv("TRAINYARD_TRAINER_IMAGENET_DATA_ROOT", str(tmp_path / "root"))
    assert main(["--spec-json", spec_for("mini")]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert events[-1]["type"] == "succeeded"
    assert events[-1]["result"]["card_key"] == "runs/r1/model_card.json"

    store = LocalStore(tmp_path / "store")
    card = ModelCard.model_validate_json(store.get_bytes("runs/r1/model_card.json"))
    assert card.classes == mini.wnids and card.run_id == "r1" and card.backbone == "resnet_tiny"
    assert (card.preprocessing.input_size, card.preprocessing.resize) == (32, 37)
    session = ort.InferenceSession(store.get_bytes("runs/r1/model.onnx"), providers=["CPUExecutionProvider"])
    name, wnid = next(iter(mini.val_labels.items()))
    with Image.open(tmp_path / "root" / "mini" / "val" / wnid / name) as image:
        x = preprocess(image, Preprocessing.from_card(card))[None]
    (logits,) = session.run(["logits"], {"input": x})
    assert logits.shape == (1, 3) and np.isfinite(logits).all()
    assert store.exists("runs/r1/checkpoint.pt")


def test_a_bad_recipe_fails_the_run_naming_the_field(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRAINYARD_STORE_ROOT", str(tmp_path / "store"))
    assert main(["--spec-json", spec_for("mini", arch="vgg16")]) == 1
    (event,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert event["type"] == "failed" and "arch" in event["error"]


def test_data_that_was_never_prepared_fails_the_run_saying_what_to_run(tmp_path, monkeypatch, capsys):
    (tmp_path / "root" / "raw-copy" / "train").mkdir(parents=True)  # unpacked by hand, never verified
    monkeypatch.setenv("TRAINYARD_STORE_ROOT", str(tmp_path / "store"))
    monkeypatch.setenv("TRAINYARD_TRAINER_IMAGENET_DATA_ROOT", str(tmp_path / "root"))
    assert main(["--spec-json", spec_for("raw-copy")]) == 1
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (failed,) = [e for e in events if e["type"] == "failed"]  # reported once
    assert "prepared.json is missing" in failed["error"] and "trainer.imagenet.prepare" in failed["error"]


def test_a_run_asking_for_gpus_this_worker_lacks_fails_before_starting_anything(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("TRAINYARD_STORE_ROOT", str(tmp_path / "store"))
    assert main(["--spec-json", spec_for("mini", gpus=16)]) == 1
    (event,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert event["type"] == "failed" and "asks for 16 GPUs" in event["error"]
