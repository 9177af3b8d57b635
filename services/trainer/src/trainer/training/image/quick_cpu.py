"""A quick image run on CPU without importing torch (torch + timm + building the network were ~4 s of
a 5 s run's process start on 2 cores, for a network nobody trains in quick mode).

It needs the backbone *prepared* in the store (``backbone_onnx.prepare_backbone``: graph, state dict,
normalisation), and then does what ``core.run.train_task`` does for a quick run, with numpy and ONNX
Runtime: decode (every core); features through the backbone graph (cached per data set;
``onnx_features``: one single-threaded session per core); the data-issue finder on a second thread
while this one fits the logistic-regression head by L-BFGS (``core.lbfgs``) on the normalised
features (``feature_norm``), composes the quick model (the graph with the normalisation and head
appended) and checks it with ONNX Runtime; the same artifacts, with ``model.pt`` written in torch's
file format by ``core/torch_file`` (state dict: the prepared backbone's tensors and the head;
``torch.load(..., weights_only=True)`` reads it).

``run_training`` takes this path when it applies (``plan_quick_cpu``), else the torch path, which
prepares the backbone on its way for the next run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
from common.contracts import ImageCardPreprocessing, TrainingSpec
from common.events import EpochEvent, PhaseEvent
from common.imaging import Preprocessing, normalize
from common.store import ObjectStore
from common.training_config import ImageTrainConfig
from threadpoolctl import threadpool_limits

from trainer.training.core.data import class_weights
from trainer.training.core.outputs import FinishedRun, OnnxCheck, write_outputs
from trainer.training.core.threads import cpu_threads
from trainer.training.core.torch_file import save as torch_file
from trainer.training.errors import ExportMismatch
from trainer.training.image.backbone_onnx import (
    PreparedBackbone,
    compose_with_head,
    is_prepared,
    load_prepared,
    pretrained_onnx_key,
)
from trainer.training.image.data import ImageSet, eval_batch, load_run_images
from trainer.training.image.feature_cache import feature_cache_key, load_features, save_features
from trainer.training.image.feature_norm import normalise
from trainer.training.image.grids import write_grids
from trainer.training.image.issue_report import find_issues
from trainer.training.image.linear_probe import ProbeFit, fit_probe, log_softmax
from trainer.training.image.onnx_features import onnx_features
from trainer.training.image.outputs import image_outputs
from trainer.training.image.weights import weights_file_name
from trainer.training.progress import PhaseCounter
from trainer.training.result import TrainingResult

log = logging.getLogger(__name__)
T = TypeVar("T")

CHECK_IMAGES = 8  # validation images the composed graph is run on (it appends one Gemm: see below)


def cuda_present() -> bool:
    """Whether an NVIDIA driver is loaded: then torch trains on the GPU, and this path steps aside."""
    return Path("/proc/driver/nvidia/version").exists()


def plan_quick_cpu(config: ImageTrainConfig, *, store: ObjectStore) -> str | None:
    """The prepared backbone's key when this path applies to ``config``, else None."""
    if config.mode != "quick" or config.head != "lbfgs" or cuda_present():
        return None
    key = pretrained_onnx_key(config.backbone, input_size=config.image_size)
    return key if key is not None and is_prepared(store, key) else None


def cross_entropy(
    logits: np.ndarray, labels: np.ndarray, *, weights: list[float] | None, smoothing: float
) -> float:
    """``torch.nn.CrossEntropyLoss(weight, label_smoothing)`` (mean reduction) in numpy: the loss the
    torch path reports, so curves of both paths mean the same."""
    log_p = log_softmax(logits.astype(np.float64))
    w = np.ones(log_p.shape[1]) if weights is None else np.asarray(weights, np.float64)
    rows = np.arange(len(labels))
    nll = -(w[labels] * log_p[rows, labels]).sum()
    smooth = -(log_p * w).sum()
    return float(((1 - smoothing) * nll + smoothing / log_p.shape[1] * smooth) / w[labels].sum())


def train_quick_cpu(
    spec: TrainingSpec,
    config: ImageTrainConfig,
    *,
    store: ObjectStore,
    report: Callable[[object], None],
    onnx_key: str,
) -> TrainingResult:
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    report(PhaseEvent(phase="loading"))
    data = load_run_images(spec, config, store=store, report=report)
    prepared = load_prepared(store, onnx_key)
    if prepared is None:
        raise RuntimeError(f"backbone {onnx_key} is not prepared; plan_quick_cpu said it was")
    prep = Preprocessing(
        input_size=config.image_size, resize=config.resize, mean=prepared.mean, std=prepared.std
    )
    weights = class_weights(config, data.class_counts(data.train))
    timings["loading"] = _lap(clock)

    started = time.perf_counter()
    views = ["center", "flip"] if config.hflip_features else ["center"]
    feature_key = feature_cache_key(
        dataset_id=spec.dataset_id,
        backbone=config.backbone,
        prep=prep,
        views=views,
        weights=weights_file_name(config.backbone) or "",
    )
    features = load_features(store, feature_key, views=views, num_images=len(data.images))
    report(PhaseEvent(phase="features", cached=features is not None, key=feature_key))
    val_pixels = None
    if features is None:
        counter = PhaseCounter(report, phase="features", total=len(data.images), unit="images")
        features, val_pixels = onnx_features(
            prepared.graph, data.images, prep, views=views, keep=data.val, on_batch=counter.update
        )
        save_features(store, feature_key, features)
    else:
        val_pixels = eval_batch(data.images, data.val, resize=prep.resize, size=prep.input_size)
    timings["features"] = _lap(started)

    head_features = {view: normalise(x, config.feature_norm) for view, x in features.items()}
    # The data-issue finder (five out-of-fold fits) runs on a second core while this thread fits the
    # head, composes and checks the model and draws the grids: all single-threaded numpy from here on.
    # One BLAS thread for the whole process meanwhile (threadpoolctl's limit is process-wide): these
    # products are small, and OpenBLAS's spinning threads would fight the two Python threads.
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(max_workers=1) as side:
        pending = (
            side.submit(_timed, find_issues, data, features["center"], seed=config.seed)
            if config.find_data_issues
            else None
        )
        report(PhaseEvent(phase="training", mode="quick", epochs=config.epochs, device="cpu"))
        started = time.perf_counter()
        fit, history = _fit_head(config, data, head_features, weights)
        timings["training"] = _lap(started)
        if history:
            report(EpochEvent(**history[-1], converged=fit.converged))

        report(PhaseEvent(phase="export"))
        steps = PhaseCounter(report, phase="export", total=3, unit="steps")  # logits, ONNX, its check
        started = time.perf_counter()
        labels = data.labels[data.val]
        logits = fit.logits(head_features["center"][data.val])
        steps.advance()
        onnx_model = compose_with_head(
            prepared.graph, weight=fit.weight, bias=fit.bias, feature_norm=config.feature_norm
        )
        steps.advance()
        check = _check(onnx_model, logits=logits, pixels=val_pixels, prep=prep)
        steps.advance()
        timings["export"] = _lap(started)
        report(PhaseEvent(phase="artifacts"))
        steps = PhaseCounter(report, phase="artifacts", total=2, unit="steps")  # the grids, then the rest
        keys = write_grids(
            store=store,
            prefix=spec.output_prefix,
            classes=data.classes,
            labels=labels,
            logits=logits,
            val_pixels=val_pixels,
            seed=config.seed,
        )
        steps.advance()
        issues = None
        if pending is not None:
            issues, timings["data_issues"] = pending.result()
    outputs = image_outputs(
        config, prep=prep, feature_key=feature_key, issues=issues, data=data, engine="onnxruntime"
    )
    finished = FinishedRun(
        config=config,
        data=data,
        labels=labels,
        logits=logits,
        val_loss=cross_entropy(logits, labels, weights=weights, smoothing=config.label_smoothing),
        val_accuracy=float((logits.argmax(1) == labels).mean()) if len(labels) else 0.0,
        history=history,
        probe_history=[],
        epochs_completed=fit.iterations,
        stopped_early=False,
        best_epoch=None,
        onnx_model=onnx_model,
        onnx_check=check,
        onnx_input="input",
        outputs=outputs,
        model_pt=_model_pt(config, data, prepared, fit, outputs.model_pt),
        card_preprocessing=ImageCardPreprocessing(
            input_size=prep.input_size, resize=prep.resize, mean=list(prep.mean), std=list(prep.std)
        ),
        class_weights=weights,
        device="cpu",
        autocast=None,
        timings=timings,
        checkpoint_key=None,
    )
    result = write_outputs(spec, finished, store=store, keys=keys)
    steps.advance()
    log.info("run %s: validation accuracy %.4f; artifacts written", spec.run_id, finished.val_accuracy)
    return result


def _fit_head(
    config: ImageTrainConfig, data: ImageSet, features: dict[str, np.ndarray], weights: list[float] | None
) -> tuple[ProbeFit, list[dict]]:
    """As ``quick.fit_head_lbfgs``: one history row per L-BFGS iteration, validation figures included."""
    x_train = np.concatenate([features[v][data.train] for v in features])
    y_train = np.tile(data.labels[data.train], len(features))
    x_val, y_val = features["center"][data.val], data.labels[data.val]
    started = time.perf_counter()

    def on_iteration(iteration: int, fit: ProbeFit) -> dict[str, float]:
        logits = fit.logits(x_val)
        return {
            "val_loss": cross_entropy(logits, y_val, weights=weights, smoothing=config.label_smoothing),
            "val_acc": float((logits.argmax(1) == y_val).mean()) if len(y_val) else 0.0,
        }

    fit = fit_probe(
        x_train,
        y_train,
        num_classes=len(data.classes),
        c=config.head_c,
        class_weight=None if weights is None else np.asarray(weights),
        on_iteration=on_iteration,
    )
    history = [
        {"epoch": row.pop("iteration"), "epochs": fit.iterations, "stage": "quick", **row, "lr": None}
        for row in fit.trace
    ]
    if history:
        history[-1]["seconds"] = round(time.perf_counter() - started, 3)
    return fit, history


def _check(onnx_model: bytes, *, logits: np.ndarray, pixels: np.ndarray, prep: Preprocessing) -> OnnxCheck:
    """The composed graph on a few validation images must give the head's logits on their features.
    A few suffice: the features came from the very same backbone graph, so what can go wrong is the
    appended Gemm and the wiring (a wrong weight orientation or output), which any image shows."""
    import onnxruntime as ort

    count = min(CHECK_IMAGES, len(logits))
    if count == 0:
        return OnnxCheck(1.0, 0.0)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = cpu_threads()
    session = ort.InferenceSession(onnx_model, options, providers=["CPUExecutionProvider"])
    ort_logits = session.run(["logits"], {"input": normalize(pixels[:count], prep)})[0]
    agreement = float((ort_logits.argmax(1) == logits[:count].argmax(1)).mean())
    max_diff = float(np.abs(ort_logits - logits[:count]).max())
    if agreement < 1.0:
        raise ExportMismatch(
            f"the quick model's ONNX graph disagrees with its head on {1 - agreement:.0%} of the checked "
            f"validation images (max logit difference {max_diff:.3g}); retry the run, and report it if it "
            "happens again"
        )
    return OnnxCheck(agreement, max_diff)


def _model_pt(
    config: ImageTrainConfig, data: ImageSet, prepared: PreparedBackbone, fit: ProbeFit, extra: dict
) -> bytes:
    """What the torch path's ``model.pt`` holds: the ``ImageClassifier`` state dict and metadata."""
    state = {**prepared.state, "head.weight": fit.weight, "head.bias": fit.bias}
    return torch_file(
        {
            "state_dict": state,
            "classes": data.classes,
            "task": config.task,
            "config": config.model_dump(mode="json"),
            **extra,
        }
    )


def _lap(start: float) -> float:
    return time.perf_counter() - start


def _timed(function: Callable[..., T], *args: object, **kwargs: object) -> tuple[T, float]:
    started = time.perf_counter()
    return function(*args, **kwargs), _lap(started)
