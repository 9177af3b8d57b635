"""Text training methods on real data, in one run: accuracy, macro-F1 and seconds.

    trec-6       train on ../shared/data/trec-6.csv (a seeded stratified 10% of it validates), score
                 ../shared/data/trec-6-test.csv through the inference service (its ONNX model and
                 tokenizer.json, no torch)
    sms-spam     ../shared/data/sms-spam.tsv, seeded stratified 80:20; the 20% scored the same way

Every method runs in its own process from a cold store (MiniLM's embedding included); wall seconds
are timed by this script from process start to model ready (the model card written). Methods:

    seed        the seed projects' recipe: LSTM (2 layers, bidirectional, 100/256, dropout 0.5),
                Adam lr 2e-4, 10 epochs, batch 64
    tfidf_lr    outside baseline, same split: scikit-learn TF-IDF (1-2 grams) + LogisticRegression
    fasttext, cnn, lstm, gru, minilm (quick), minilm_finetune: our defaults

    uv run python bench/text_training.py [--threads 2] [--sets trec-6,sms-spam] [--methods ...]
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import argparse
import asyncio
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEED = 0
METHODS: dict[str, dict] = {
    "seed": {
        "model": "lstm",
        "optimizer": "adam",
        "learning_rate": 2e-4,
        "epochs": 10,
        "batch_size": 64,
        "embedding_dim": 100,
        "hidden_dim": 256,
        "number_of_layers": 2,
        "bidirectional": True,
        "dropout": 0.5,
        "label_smoothing": 0.0,
        "class_weighting": "none",
        "lr_schedule": "none",
    },
    "tfidf_lr": {},
    "fasttext": {"model": "fasttext"},
    "cnn": {"model": "cnn"},
    "lstm": {"model": "lstm"},
    "gru": {"model": "gru"},
    "minilm": {"model": "minilm"},
    "minilm_finetune": {"model": "minilm", "mode": "finetune"},
}


def read_rows(name: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train rows, test rows) of (text, label)."""
    import numpy as np

    if name == "trec-6":
        load = lambda f: [(r["text"], r["label"]) for r in csv.DictReader(open(DATA / f, encoding="utf-8"))]  # noqa: E731
        return load("trec-6.csv"), load("trec-6-test.csv")
    with open(DATA / "sms-spam.tsv", encoding="utf-8") as f:
        rows = [(r["SMS"], r["Label"]) for r in csv.DictReader(f, delimiter="\t")]
    is_test = _stratified(np.asarray([label for _, label in rows]), 0.2)
    return [r for r, t in zip(rows, is_test, strict=True) if not t], [
        r for r, t in zip(rows, is_test, strict=True) if t
    ]


def _stratified(labels, fraction: float):
    import numpy as np

    rng = np.random.default_rng(SEED)
    chosen = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        chosen[members[: round(len(members) * fraction)]] = True
    return chosen


def write_store(root: Path, name: str, train: list[tuple[str, str]]) -> str:
    import numpy as np
    from common.contracts import DatasetManifest, ManifestItem, manifest_key
    from common.store import LocalStore

    labels = np.asarray([label for _, label in train])
    is_val = _stratified(labels, 0.1 if name == "trec-6" else 0.2)
    items = [
        ManifestItem(label=label, split="val" if v else "train", source=f"row {n + 2}", text=text)
        for n, ((text, label), v) in enumerate(zip(train, is_val, strict=True))
    ]
    manifest = DatasetManifest(
        dataset_id=name,
        kind="text",
        classes=sorted(set(labels)),
        seed=SEED,
        val_fraction=float(is_val.mean()),
        items=items,
    )
    LocalStore(root).put_bytes(manifest_key(name), manifest.model_dump_json().encode())
    return manifest_key(name)


def macro_f1(truth: list[str], predicted: list[str]) -> float:
    classes = sorted(set(truth))
    scores = []
    for c in classes:
        tp = sum(t == c and p == c for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != c and p == c for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == c and p != c for t, p in zip(truth, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


async def serve_predictions(root: Path, run_id: str, result: dict, texts: list[str]) -> list[str]:
    from common.contracts import ModelRegister
    from common.store import LocalStore
    from inference.testing import bearer, new_token, register, serve

    async with serve(
        database_url=f"sqlite+aiosqlite:///{root / 'inference.db'}",
        store=LocalStore(root),
        tmp_path=root,
        max_texts=100_000,
    ) as client:
        model = await register(
            client,
            ModelRegister(
                run_id=run_id, name=run_id, onnx_key=result["onnx_key"], card_key=result["card_key"]
            ),
        )
        token = (await new_token(client, model["id"]))["token"]
        labels = []
        for start in range(0, len(texts), 500):
            response = await client.post(
                "/predict?top_k=1", json={"texts": texts[start : start + 500]}, headers=bearer(token)
            )
            response.raise_for_status()
            labels += [p["top_k"][0]["label"] for p in response.json()["predictions"]]
        return labels


def child(method: str, name: str, root: Path, threads: int) -> None:
    """One method in this process; prints one JSON line: ready_at (wall clock), then the test scores."""
    train, test = read_rows(name)
    texts, truth = [t for t, _ in test], [label for _, label in test]
    if method == "tfidf_lr":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        classifier = LogisticRegression(C=10, max_iter=2000).fit(
            vectorizer.fit_transform([t for t, _ in train]), [label for _, label in train]
        )
        ready_at = time.time()
        predicted = list(classifier.predict(vectorizer.transform(texts)))
        extra: dict = {}
    else:
        import torch
        from common.contracts import TrainingSpec, run_prefix
        from common.store import LocalStore
        from trainer.training import run_training

        torch.set_num_threads(threads)
        key = write_store(root, name, train)
        spec = TrainingSpec(
            run_id=method,
            owner="bench",
            dataset_id=name,
            manifest_key=key,
            output_prefix=run_prefix(method),
            config={"task": "text", **METHODS[method]},
        )
        result = run_training(spec, store=LocalStore(root), report=lambda e: None).model_dump()
        ready_at = time.time()
        predicted = asyncio.run(serve_predictions(root, method, result, texts))
        metrics = json.loads((root / "runs" / method / "metrics.json").read_bytes())
        extra = {
            "val_accuracy": round(result["val_accuracy"], 4),
            "timings_s": metrics["timings_s"],
            "epochs": result["epochs_completed"],
        }
    accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    print(
        json.dumps(
            {
                "ready_at": ready_at,
                "test_accuracy": accuracy,
                "macro_f1": macro_f1(truth, predicted),
                "test_rows": len(truth),
                **extra,
            }
        )
    )


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sets", default="trec-6,sms-spam")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "SET", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]), args.threads)
        return
    print(
        f"# {cpu_model()}, {args.threads} threads, python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    results: dict[tuple[str, str], dict] = {}
    for name in args.sets.split(","):
        for method in args.methods.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                started = time.time()
                done = subprocess.run(
                    [sys.executable, __file__, "--threads", str(args.threads), "--child", method, name, tmp],
                    capture_output=True,
                    text=True,
                    env={**os.environ, "HF_HUB_OFFLINE": "1"},
                )
                if done.returncode:
                    print(f"{name:9} {method:16} FAILED: {done.stderr[-800:]}")
                    continue
                row = json.loads(done.stdout.strip().splitlines()[-1])
                row["wall_s"] = row.pop("ready_at") - started
                results[(name, method)] = row
                print(
                    f"{name:9} {method:16} acc {row['test_accuracy']:.4f}  macro-F1 {row['macro_f1']:.4f}  "
                    f"wall {row['wall_s']:6.1f} s  acc/s {row['test_accuracy'] / row['wall_s']:.4f}  "
                    f"{json.dumps({k: v for k, v in row.items() if k in ('timings_s', 'epochs')})}",
                    flush=True,
                )
        seed, quick = results.get((name, "seed")), results.get((name, "minilm"))
        if seed and quick:
            print(
                f"{name:9} minilm vs seed: accuracy x{quick['test_accuracy'] / seed['test_accuracy']:.3f}, "
                f"time x{seed['wall_s'] / quick['wall_s']:.2f} faster"
            )


if __name__ == "__main__":
    main()
