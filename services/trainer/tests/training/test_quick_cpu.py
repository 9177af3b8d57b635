"""The quick path on CPU without torch: torch's file format from numpy, the loss it reports, and a run
on a prepared backbone that never imports torch yet leaves a model.pt the torch classifier loads."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from common.contracts import ModelCard
from common.imaging import Preprocessing, preprocess
from trainer.training import run_training
from trainer.training.core.export import onnx_logits
from trainer.training.core.torch_file import save
from trainer.training.image.models import build_classifier
from trainer.training.image.preprocessing import decode_rgb
from trainer.training.image.quick_cpu import cross_entropy

from .conftest import EventLog, make_spec


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.array(7, dtype=np.int64),  # batch norm's num_batches_tracked: a 0-d tensor
        np.arange(24, dtype=np.float64).reshape(2, 3, 4)[:, ::2],  # not contiguous
        np.array([1.5, -2.0], dtype=np.float16),
        np.array([True, False]),
        np.zeros((0, 5), dtype=np.float32),
        np.array([1, 2, 3], dtype=np.uint8),
    ],
    ids=["float32", "int64-0d", "float64-strided", "float16", "bool", "empty", "uint8"],
)
def test_torch_file_reads_back_with_weights_only(array):
    payload = torch.load(io.BytesIO(save({"t": array})), weights_only=True)
    tensor = payload["t"]
    assert tuple(tensor.shape) == array.shape and str(tensor.dtype).endswith(
        str(array.dtype).replace("bool", "bool")
    )
    np.testing.assert_array_equal(tensor.numpy(), array)


def test_torch_file_keeps_plain_values_and_tensor_order():
    value = {
        "state_dict": {"b.weight": np.ones(2, np.float32), "a.bias": np.zeros(3, np.float32)},
        "classes": ["daisy", "rosé"],
        "config": {"lr": 0.001, "big": 2**40, "neg": -3, "none": None, "flag": True, "pair": (1, "x")},
    }
    payload = torch.load(io.BytesIO(save(value)), weights_only=True)
    assert list(payload["state_dict"]) == ["b.weight", "a.bias"]
    assert payload["classes"] == value["classes"] and payload["config"] == value["config"]


def test_torch_file_refuses_what_torch_load_would_not_read():
    with pytest.raises(TypeError, match="cannot write set"):
        save({"x": {1, 2}})


@pytest.mark.parametrize(("weights", "smoothing"), [(None, 0.0), (None, 0.1), ([0.5, 2.0, 1.0], 0.1)])
def test_numpy_loss_is_torchs_cross_entropy(weights, smoothing):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(20, 3)).astype(np.float32) * 3
    labels = rng.integers(0, 3, 20)
    expected = torch.nn.CrossEntropyLoss(
        weight=None if weights is None else torch.tensor(weights), label_smoothing=smoothing
    )(torch.from_numpy(logits), torch.from_numpy(labels))
    assert cross_entropy(logits, labels, weights=weights, smoothing=smoothing) == pytest.approx(
        expected.item(), rel=1e-5
    )


def test_quick_run_on_a_prepared_backbone_imports_neither_torch_nor_matplotlib(quick_run, tmp_path):
    # quick_run (the torch path) prepared efficientnet_lite0 at 64 px in this store on its way.
    script = textwrap.dedent(
        f"""
        import json, sys
        from common.contracts import TrainingSpec
        from common.store import LocalStore
        from trainer.training import run_training
        spec = TrainingSpec.model_validate_json({make_spec("quick-cpu-1").model_dump_json()!r})
        result = run_training(spec, store=LocalStore({str(quick_run.store.root)!r}), report=lambda e: None)
        imported = {{name: name in sys.modules for name in ("torch", "matplotlib")}}
        print(json.dumps({{**imported, "acc": result.val_accuracy}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    outcome = json.loads(out.stdout.strip().splitlines()[-1])
    assert outcome == {"torch": False, "matplotlib": False, "acc": quick_run.result.val_accuracy}


def test_quick_cpu_model_pt_is_the_classifier_the_onnx_model_computes(quick_run):
    store, events = quick_run.store, EventLog()
    result = run_training(make_spec("quick-cpu-2"), store=store, report=events)
    assert json.loads(store.get_bytes(result.artifacts["metrics.json"]))["engine"] == "onnxruntime"

    payload = torch.load(io.BytesIO(store.get_bytes(result.artifacts["model.pt"])), weights_only=True)
    assert payload["feature_norm"] == "sqrt"  # the default: the network applies it before the head
    model, _ = build_classifier(
        "efficientnet_lite0",
        num_classes=3,
        dropout=0.0,
        store=store,
        weights_dir=None,
        feature_norm=payload["feature_norm"],
    )
    model.load_state_dict(payload["state_dict"], strict=True)
    model.eval()
    card = ModelCard.model_validate_json(store.get_bytes(result.card_key))
    prep = Preprocessing.from_card(card)
    manifest = json.loads(store.get_bytes("datasets/ds-shapes/manifest.json"))
    pack = store.get_bytes(manifest["pack_key"])
    items = manifest["items"][:6]
    x = np.stack([preprocess(decode_rgb(pack[i["offset"] : i["offset"] + i["length"]]), prep) for i in items])
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(x)).numpy()
    ort_logits = onnx_logits(store.get_bytes(result.onnx_key), {"input": x})
    np.testing.assert_allclose(torch_logits, ort_logits, atol=1e-3)
    assert payload["classes"] == card.classes and payload["mode"] == "quick"
