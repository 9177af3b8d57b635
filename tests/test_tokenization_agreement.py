"""Trainer and inference service turn a text into the same token ids: the trainer's ids (TextTask) equal
those the inference service gets from the tokenizer.json it reads beside the model (TokenizerCache)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from common.contracts import ModelCard, TextCardPreprocessing, TrainingSpec
from common.store import LocalStore
from common.testing.texts import text_spec, write_text_dataset
from common.training_config import parse_run_config
from inference.predict.auth import AuthorizedModel
from inference.predict.text import TokenizerCache
from trainer.training.text.task import TextTask

HARD_TEXTS = [
    "",
    "   ",
    "🍕🍕🍕",
    "Ça va? naïve CAFÉ 東京",
    "tab\there\nnewline",
    "goal match " * 5_000,
    "goal ⚽ match",
]


@pytest.mark.parametrize("model", ["fasttext", "minilm"])
def test_trainer_and_inference_tokenize_identically(tmp_path, model: str):
    store = LocalStore(tmp_path / "objects")
    write_text_dataset(store)
    spec: TrainingSpec = text_spec(f"tok-{model}", model=model)
    task = TextTask(spec=spec, config=parse_run_config(spec.config), store=store)
    data = task.load_data()
    tokenizer = task.tokenizer
    assert tokenizer is not None
    store.put_bytes("runs/tok/tokenizer.json", tokenizer.to_json())
    card = ModelCard(
        task="text",
        classes=data.classes,
        preprocessing=TextCardPreprocessing(
            tokenizer_sha256=tokenizer.sha256(),
            tokenizer_kind="wordpiece" if model == "minilm" else "word",
            max_length=spec.config["max_length"],
            pad_id=0,
            max_chars=60_000,
        ),
        backbone=model,
        mode="quick",
        val_accuracy=0.0,
        created_at=datetime.now(UTC),
        run_id="tok",
        dataset_id=data.dataset_id,
    )
    served = TokenizerCache().get(
        store, AuthorizedModel(model_id="m", onnx_key="runs/tok/model.onnx", card=card)
    )

    assert (served.encode(data.texts) == task.ids).all()
    trainer_ids, served_ids = tokenizer.encode(HARD_TEXTS), served.encode(HARD_TEXTS)
    assert trainer_ids.shape == served_ids.shape and (trainer_ids == served_ids).all()
    assert trainer_ids.shape[1] == spec.config["max_length"]  # the 50,000-character text is truncated
    assert (trainer_ids[0] == 0).all() == (model == "fasttext")  # an empty text: padding only (word level)
