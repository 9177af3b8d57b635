"""How good the quick probe is, beyond one split: repeated stratified 5-fold cross-validation on every
image of a data set, for the quick head and well-tuned scikit-learn probes on the same features, and
what each offline backbone costs per image.

For each backbone the zip goes through the dataset service's validation, the backbone is prepared
(ONNX graph, as the trainer does once per install), and the pooled features of every image are
computed once by the quick path's extractor (``onnx_features``, timed: seconds per image on this
machine). Then, on the same folds (5 folds x ``--repeats`` seeds, stratified):

    quick (default)   our L-BFGS head, C 0.1, on the signed-sqrt features (feature_norm "sqrt")
    quick, raw        the same head on the raw pooled features (feature_norm "none")
    sklearn C=1       LogisticRegression() on StandardScaler output: a user's first probe
    sklearn tuned     LogisticRegressionCV (C from 10 values over 1e-3..1e2 by inner 5-fold CV) on
                      StandardScaler output: a well-tuned linear probe

    uv run python bench/probe_cv.py [--zip PATH] [--backbones efficientnet_lite0,efficientnet_lite1]
        [--repeats 4]
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from bench.image_training import DATASET_ID, DEFAULT_ZIP, build_store, cpu_model

NATIVE_SIZE = {"efficientnet_lite0": 224, "efficientnet_lite1": 256, "efficientnet_lite2": 256}


def features_of(backbone: str, store_root: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """(features [n, d], labels [n], seconds per image) through the quick path's extractor."""
    from common.contracts import manifest_key
    from common.imaging import Preprocessing
    from common.store import LocalStore
    from trainer.training.image.backbone_onnx import load_prepared, prepare_backbone
    from trainer.training.image.data import load_image_set
    from trainer.training.image.onnx_features import onnx_features

    store = LocalStore(store_root)
    size = NATIVE_SIZE[backbone]
    key = prepare_backbone(store=store, backbone=backbone, image_size=size, weights_dir=None)
    prepared = load_prepared(store, key)
    resize = round(size / 0.875)
    data = load_image_set(
        store=store, manifest_key=manifest_key(DATASET_ID), val_fraction=None, seed=0, min_shorter_side=resize
    )
    prep = Preprocessing(input_size=size, resize=resize, mean=prepared.mean, std=prepared.std)
    started = time.perf_counter()
    features, _ = onnx_features(prepared.graph, data.images, prep, views=["center"])
    seconds = (time.perf_counter() - started) / len(data.images)
    return features["center"], data.labels, seconds


def cross_validate(features: np.ndarray, labels: np.ndarray, *, repeats: int) -> dict[str, list[float]]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler
    from trainer.training.image.feature_norm import normalise
    from trainer.training.image.linear_probe import fit_probe

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)  # scikit-learn 1.9 on 1.10 defaults
    num_classes = int(labels.max()) + 1
    scores: dict[str, list[float]] = {
        "quick (default, sqrt)": [],
        "quick, raw features": [],
        "sklearn C=1": [],
        "sklearn tuned": [],
    }
    for repeat in range(repeats):
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=repeat)
        for train, test in folds.split(features, labels):
            for name, kind in (("quick (default, sqrt)", "sqrt"), ("quick, raw features", "none")):
                x = normalise(features, kind)
                fit = fit_probe(x[train], labels[train], num_classes=num_classes, c=0.1, record=False)
                scores[name].append(float((fit.logits(x[test]).argmax(1) == labels[test]).mean()))
            scaler = StandardScaler().fit(features[train])
            x_train, x_test = scaler.transform(features[train]), scaler.transform(features[test])
            plain = LogisticRegression(max_iter=2000).fit(x_train, labels[train])
            scores["sklearn C=1"].append(float(plain.score(x_test, labels[test])))
            tuned = LogisticRegressionCV(Cs=np.logspace(-3, 2, 10), cv=5, max_iter=2000).fit(
                x_train, labels[train]
            )
            scores["sklearn tuned"].append(float(tuned.score(x_test, labels[test])))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--backbones", default="efficientnet_lite0,efficientnet_lite1,efficientnet_lite2")
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        build_store(args.zip, Path(tmp) / "store")
        for backbone in args.backbones.split(","):
            features, labels, per_image = features_of(backbone, Path(tmp) / "store")
            scores = cross_validate(features, labels, repeats=args.repeats)
            results.append({"backbone": backbone, "ms_per_image": per_image * 1000, "scores": scores})
            size = NATIVE_SIZE[backbone]
            print(f"{backbone} ({size} px): features {per_image * 1000:.1f} ms/image", flush=True)
            for name, values in scores.items():
                print(f"  {name:<22} {np.mean(values):.4f} +- {np.std(values) / np.sqrt(len(values)):.4f}")
    print(f"\nmachine: {cpu_model()}, {os.cpu_count()} cpus; {len(labels)} images; 5-fold x {args.repeats}")
    print("| backbone | features, ms per image | " + " | ".join(results[0]["scores"]) + " |")
    print("|---|---|" + "---|" * len(results[0]["scores"]))
    for r in results:
        cells = " | ".join(f"{np.mean(v):.3f}" for v in r["scores"].values())
        print(f"| {r['backbone']} | {r['ms_per_image']:.1f} | {cells} |")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
