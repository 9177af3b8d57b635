"""A tiny generated text data set for trainer and cross-service tests: 3 classes told apart by their
words, with unicode, emoji, a very long text and an empty one among them."""

from __future__ import annotations

import random

from common.contracts import DatasetManifest, ManifestItem, TrainingSpec, manifest_key, run_prefix
from common.store import ObjectStore

TEXT_DATASET_ID = "ds-texts"
WORDS = {
    "sport": ["goal", "match", "team", "score", "league", "coach", "⚽", "fútbol"],
    "food": ["pizza", "soup", "bread", "cheese", "recipe", "oven", "🍕", "crème brûlée"],
    "tech": ["laptop", "code", "server", "python", "network", "chip", "💻", "東京 startup"],
}
FILLER = ["the", "a", "very", "today", "and", "with", "my", "new"]
PER_CLASS = 20
VAL_PER_CLASS = 5


def sample_texts(seed: int = 0, per_class: int = PER_CLASS) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for label, words in WORDS.items():
        for _ in range(per_class):
            tokens = rng.choices(words, k=rng.randint(2, 6)) + rng.choices(FILLER, k=rng.randint(0, 4))
            rng.shuffle(tokens)
            rows.append((label, " ".join(tokens)))
    # Edge cases, one per class position: empty, emoji only, very long.
    rows[1] = ("sport", "")
    rows[per_class + 2] = ("food", "🍕🍕🍕")
    rows[2 * per_class + 3] = ("tech", " ".join(["server code"] * 1500))
    return rows


def write_text_dataset(store: ObjectStore, dataset_id: str = TEXT_DATASET_ID) -> str:
    items = []
    for n, (label, text) in enumerate(sample_texts()):
        items.append(
            ManifestItem(
                label=label,
                split="val" if n % PER_CLASS < VAL_PER_CLASS else "train",
                source=f"row {n + 2}",
                text=text,
            )
        )
    manifest = DatasetManifest(
        dataset_id=dataset_id,
        kind="text",
        classes=list(WORDS),
        seed=0,
        val_fraction=VAL_PER_CLASS / PER_CLASS,
        items=items,
    )
    store.put_bytes(manifest_key(dataset_id), manifest.model_dump_json().encode())
    return manifest_key(dataset_id)


# Tiny dimensions: these tests prove the mechanism, not the accuracy (bench/text_training.py does).
TINY = {"embedding_dim": 16, "hidden_dim": 8, "n_filters": 8, "bigram_buckets": 64, "max_length": 48}
MODEL_CONFIGS = {
    "fasttext": {"model": "fasttext", "epochs": 8, "learning_rate": 0.05},
    "cnn": {"model": "cnn", "epochs": 6, "learning_rate": 0.01, "batch_size": 8},
    "lstm": {"model": "lstm", "epochs": 6, "learning_rate": 0.02, "number_of_layers": 2, "batch_size": 8},
    "gru": {"model": "gru", "epochs": 6, "learning_rate": 0.02, "bidirectional": False, "batch_size": 8},
    "minilm-quick": {"model": "minilm", "max_length": 24},
    "minilm-quick-sgd": {"model": "minilm", "head": "sgd", "epochs": 20, "max_length": 24},
    "minilm-finetune": {
        "model": "minilm",
        "mode": "finetune",
        "epochs": 1,
        "max_length": 24,
        "finetune_probe_epochs": 5,
        "batch_size": 16,
    },
}


def text_spec(run_id: str, **config) -> TrainingSpec:
    return TrainingSpec(
        run_id=run_id,
        owner="alice",
        dataset_id=TEXT_DATASET_ID,
        manifest_key=manifest_key(TEXT_DATASET_ID),
        output_prefix=run_prefix(run_id),
        config={"task": "text", **TINY, **config},
    )
