"""Every text model trains on generated data (unicode, emoji, a very long and an empty text, 3 classes),
writes the text artifacts, and the inference service (tokenizer.json + ONNX Runtime, no torch) predicts
exactly what the trainer's PyTorch model predicts on every validation text."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch
from common.contracts import ModelCard, ModelRegister, TrainingSpec
from common.events import wire_event
from common.store import LocalStore
from common.testing.texts import MODEL_CONFIGS, text_spec, write_text_dataset
from common.text import TextTokenizer
from common.training_config import parse_run_config
from inference.testing import bearer, new_token, register, serve
from trainer.training import TrainingResult, run_training
from trainer.training.text.embeddings import encoder_onnx_key
from trainer.training.text.minilm import load_minilm
from trainer.training.text.task import TextTask

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


def pytorch_predictions(
    store: LocalStore, spec: TrainingSpec, result: TrainingResult
) -> tuple[list[str], list[str]]:
    """(validation texts, labels the trainer's PyTorch model predicts), the model rebuilt from model.pt."""
    task = TextTask(spec=spec, config=parse_run_config(spec.config), store=store)
    data = task.load_data()
    model = task.build_model(data, device=type("Cpu", (), {"torch": torch.device("cpu")})())
    payload = torch.load(io.BytesIO(store.get_bytes(result.artifacts["model.pt"])), weights_only=True)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(task.ids[data.val])).numpy()
    return [data.texts[i] for i in data.val], [data.classes[i] for i in logits.argmax(1)]


@pytest.mark.parametrize("name", list(MODEL_CONFIGS))
async def test_text_model_trains_and_serves_what_pytorch_predicts(
    text_store: LocalStore, name: str, tmp_path
):
    spec = text_spec(f"text-{name}", **MODEL_CONFIGS[name])
    events: list[dict] = []
    result = run_training(spec, store=text_store, report=lambda e: events.append(wire_event(e)))

    assert set(result.artifacts) >= ARTIFACTS
    assert result.onnx_top1_agreement == 1.0
    assert result.val_accuracy > 0.5  # 3 classes: chance is 1/3
    card = ModelCard.model_validate_json(text_store.get_bytes(result.card_key))
    assert card.task == "text" and card.classes == ["sport", "food", "tech"]
    assert card.preprocessing.max_length == spec.config["max_length"]
    tokenizer = TextTokenizer.from_json(
        text_store.get_bytes(result.artifacts["tokenizer.json"]), max_length=card.preprocessing.max_length
    )
    assert tokenizer.sha256() == card.preprocessing.tokenizer_sha256
    assert card.preprocessing.tokenizer_kind == ("wordpiece" if name.startswith("minilm") else "word")
    epochs = [e for e in events if e["type"] == "epoch"]
    # An L-BFGS head (minilm quick's default) counts its iterations to convergence as epochs.
    assert epochs[-1]["epoch"] == epochs[-1]["epochs"] == spec.config.get("epochs", result.epochs_completed)
    if spec.config["model"] == "minilm" and spec.config.get("mode", "quick") == "quick":
        # Nothing exported: the cached encoder graph with the head appended.
        assert text_store.exists(encoder_onnx_key(load_minilm()))

    texts, expected = pytorch_predictions(text_store, spec, result)
    served = [(t, e) for t, e in zip(texts, expected, strict=True) if t.strip()]  # empty: a 422 (below)
    assert len(served) >= 10 and any(len(t) > 10_000 for t, _ in served)
    async with serve(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'inf.db'}", store=text_store, tmp_path=tmp_path
    ) as client:
        model = await register(
            client,
            ModelRegister(run_id=spec.run_id, name=name, onnx_key=result.onnx_key, card_key=result.card_key),
        )
        token = (await new_token(client, model["id"]))["token"]
        response = await client.post(
            "/predict", json={"texts": [t for t, _ in served]}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        labels = [p["top_k"][0]["label"] for p in response.json()["predictions"]]
        assert labels == [e for _, e in served]
        one = await client.post("/predict", json={"text": served[0][0]}, headers=bearer(token))
        assert one.json()["top_k"][0]["label"] == served[0][1]


def test_text_examples_are_json_and_csv_of_the_same_rows(text_store: LocalStore):
    spec = text_spec("text-examples", **{**MODEL_CONFIGS["fasttext"], "epochs": 1})
    result = run_training(spec, store=text_store, report=lambda e: None)
    for name in ("misclassified", "confident_correct"):
        rows = json.loads(text_store.get_bytes(result.artifacts[f"{name}.json"]))
        table = list(
            csv.DictReader(io.StringIO(text_store.get_bytes(result.artifacts[f"{name}.csv"]).decode()))
        )
        assert [r["true"] for r in rows] == [r["true"] for r in table]
        assert all(set(r) == {"text", "true", "predicted", "confidence"} for r in rows)
        assert all((r["predicted"] != r["true"]) == (name == "misclassified") for r in rows)
    confidences = [
        r["confidence"] for r in json.loads(text_store.get_bytes(result.artifacts["confident_correct.json"]))
    ]
    assert confidences == sorted(confidences, reverse=True)
