"""Every text model trains on generated data (unicode, emoji, a very long and an empty text, 3 classes),
exports to ONNX with integer inputs that agree with PyTorch, and writes the text artifacts."""

from __future__ import annotations

import csv
import io
import json

import pytest
from common.contracts import ModelCard
from common.store import LocalStore
from common.text import TextTokenizer
from trainer.training import run_training

from .text_data import MODEL_CONFIGS, text_spec, write_text_dataset

ARTIFACTS = {
    "curves.png",
    "confusion_matrix.png",
    "confusion_matrix.json",
    "per_class.json",
    "metrics.json",
    "model.pt",
    "model.onnx",
    "model_card.json",
    "tokenizer.json",
    "misclassified.json",
    "misclassified.csv",
    "confident_correct.json",
    "confident_correct.csv",
}


@pytest.fixture(scope="module")
def text_store(tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    store = LocalStore(tmp_path_factory.mktemp("text-objects"))
    write_text_dataset(store)
    return store


@pytest.mark.parametrize("name", list(MODEL_CONFIGS))
def test_text_model_trains_exports_and_writes_its_artifacts(text_store: LocalStore, name: str):
    events: list[dict] = []
    result = run_training(
        text_spec(f"text-{name}", **MODEL_CONFIGS[name]), store=text_store, report=events.append
    )

    assert set(result.artifacts) >= ARTIFACTS
    assert result.onnx_top1_agreement == 1.0
    assert result.val_accuracy > 0.5  # 3 classes: chance is 1/3
    card = ModelCard.model_validate_json(text_store.get_bytes(result.card_key))
    assert card.task == "text" and card.classes == ["sport", "food", "tech"]
    assert card.preprocessing.max_length == MODEL_CONFIGS[name].get("max_length", 48)
    tokenizer_bytes = text_store.get_bytes(result.artifacts["tokenizer.json"])
    tokenizer = TextTokenizer.from_json(tokenizer_bytes, max_length=card.preprocessing.max_length)
    assert tokenizer.sha256() == card.preprocessing.tokenizer_sha256
    assert card.preprocessing.tokenizer_kind == ("wordpiece" if name.startswith("minilm") else "word")
    epochs = [e for e in events if e["type"] == "epoch"]
    assert epochs[-1]["epoch"] == epochs[-1]["epochs"]


def test_text_examples_are_json_and_csv_of_the_same_rows(text_store: LocalStore):
    result = run_training(
        text_spec("text-examples", **{**MODEL_CONFIGS["fasttext"], "epochs": 1}),
        store=text_store,
        report=lambda e: None,
    )
    for name in ("misclassified", "confident_correct"):
        rows = json.loads(text_store.get_bytes(result.artifacts[f"{name}.json"]))
        table = list(
            csv.DictReader(io.StringIO(text_store.get_bytes(result.artifacts[f"{name}.csv"]).decode()))
        )
        assert [r["true"] for r in rows] == [r["true"] for r in table]
        assert all(set(r) == {"text", "true", "predicted", "confidence"} for r in rows)
        assert all((r["predicted"] != r["true"]) == (name == "misclassified") for r in rows)
    correct = json.loads(text_store.get_bytes(result.artifacts["confident_correct.json"]))
    confidences = [r["confidence"] for r in correct]
    assert confidences == sorted(confidences, reverse=True)
