"""A linear head on frozen features, fitted to convergence: multinomial logistic regression with an L2
penalty on standardised features, full batch, by L-BFGS (``core.lbfgs``, in numpy). For a few hundred
to a few thousand images it converges in well under a second, where 60 epochs of mini-batch SGD took
seconds and stopped wherever the schedule ended. It is what a careful user would fit with scikit-learn
(``LogisticRegression(C=...)`` on ``StandardScaler`` output), with no scikit-learn dependency.

``out_of_fold_probabilities`` fits it k times on stratified folds: every training image gets a
prediction from a model that never saw it (the data-issue finder's input).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from trainer.training.core.lbfgs import minimize_lbfgs

# sklearn's default C = 1 over-fits 1280-d features of a few hundred photos; 0.1 measured best on
# flowers-5x100 at 224 px (0.92 vs 0.91-0.92, BENCHMARKS.md), and the choice matters little.
DEFAULT_C = 0.1
MAX_ITERATIONS = 1000
TOLERANCE = 1e-6
OUT_OF_FOLD_TOLERANCE = 1e-4


@dataclass
class ProbeFit:
    """Weights on the raw features: ``logits = features @ weight.T + bias`` (standardisation folded in)."""

    weight: np.ndarray  # float32 [classes, features]
    bias: np.ndarray  # float32 [classes]
    iterations: int
    converged: bool
    trace: list[dict[str, float]] = field(default_factory=list)  # one row per iteration

    def logits(self, features: np.ndarray) -> np.ndarray:
        return features.astype(np.float32) @ self.weight.T + self.bias


def fit_probe(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    num_classes: int,
    c: float = DEFAULT_C,
    class_weight: np.ndarray | None = None,
    label_smoothing: float = 0.0,
    on_iteration: Callable[[int, ProbeFit], dict[str, float]] | None = None,
    record: bool = True,
    tolerance: float = TOLERANCE,
) -> ProbeFit:
    """Minimise mean (class-weighted, smoothed) cross-entropy + ||W||^2 / (2 C n) by L-BFGS.

    ``on_iteration(i, fit_so_far)`` returns extra figures for the iteration's trace row (validation
    loss and accuracy): the run's curves show every iteration up to convergence.
    """
    x = features.astype(np.float64)
    n, d = x.shape
    mean = x.mean(0)
    scale = x.std(0)
    scale[scale < 1e-8] = 1.0
    xs = (x - mean) / scale
    targets = np.full((n, num_classes), label_smoothing / num_classes)
    targets[np.arange(n), labels] += 1.0 - label_smoothing
    sample_weight = np.ones(n) if class_weight is None else np.asarray(class_weight, np.float64)[labels]
    sample_weight = sample_weight / sample_weight.sum()
    penalty = 1.0 / (c * n)
    xs_t = np.ascontiguousarray(xs.T)
    last: dict[str, object] = {}  # the latest evaluation: the trace reads its loss and logits

    def loss_and_grad(w: np.ndarray) -> tuple[float, np.ndarray]:
        weight, bias = w[: d * num_classes].reshape(d, num_classes), w[d * num_classes :]
        z = xs @ weight + bias
        log_p = log_softmax(z)
        loss = -(sample_weight * (targets * log_p).sum(1)).sum() + 0.5 * penalty * (weight * weight).sum()
        residual = (np.exp(log_p) - targets) * sample_weight[:, None]
        grad_w = xs_t @ residual + penalty * weight
        last.update(w=w, loss=float(loss), z=z)
        return float(loss), np.concatenate([grad_w.ravel(), residual.sum(0)])

    def folded(w: np.ndarray, iterations: int, converged: bool) -> ProbeFit:
        weight, bias = w[: d * num_classes].reshape(d, num_classes), w[d * num_classes :]
        raw_weight = weight / scale[:, None]
        raw_bias = bias - mean @ raw_weight
        return ProbeFit(raw_weight.T.astype(np.float32), raw_bias.astype(np.float32), iterations, converged)

    trace: list[dict[str, float]] = []

    def callback(w: np.ndarray) -> None:
        if last.get("w") is not w:  # the line search's last evaluation is the accepted point
            loss_and_grad(w)
        fit = folded(w, len(trace) + 1, False)
        predicted = np.asarray(last["z"]).argmax(1)
        row = {
            "iteration": len(trace) + 1,
            "train_loss": last["loss"],
            "train_acc": float((predicted == labels).mean()),
        }
        if on_iteration is not None:
            row |= on_iteration(len(trace) + 1, fit)
        trace.append(row)

    # One BLAS thread: these products are small, and OpenBLAS's threads spinning for them made each
    # fit 4-20x slower on 2 busy cores (BENCHMARKS.md).
    with threadpool_limits(1, user_api="blas"):
        result = minimize_lbfgs(
            loss_and_grad,
            np.zeros(d * num_classes + num_classes),
            gtol=tolerance,
            ftol=1e-10,
            max_iterations=MAX_ITERATIONS,
            callback=callback if record else None,
        )
    fit = folded(result.x, result.iterations, result.converged)
    fit.trace = trace
    return fit


def stratified_folds(labels: np.ndarray, *, folds: int, seed: int) -> np.ndarray:
    """Fold number per example: each class dealt round-robin over the folds after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        fold_of[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)
    return fold_of


def out_of_fold_probabilities(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    num_classes: int,
    folds: int = 5,
    seed: int = 0,
    c: float = DEFAULT_C,
) -> np.ndarray:
    """float [n, classes]: each row predicted by a probe fitted on the other folds."""
    fold_of = stratified_folds(labels, folds=min(folds, max(2, np.bincount(labels).min())), seed=seed)
    probabilities = np.zeros((len(labels), num_classes))
    for fold in np.unique(fold_of):
        held_out = fold_of == fold
        # No per-iteration trace (nobody reads it here), and a looser tolerance: these probabilities
        # only need to be right to a few per cent. Each fit starts from zero: starting from another
        # fold's weights, which saw this fold's images, leaks their labels into a fit stopped early.
        fit = fit_probe(
            features[~held_out],
            labels[~held_out],
            num_classes=num_classes,
            c=c,
            record=False,
            tolerance=OUT_OF_FOLD_TOLERANCE,
        )
        probabilities[held_out] = np.exp(log_softmax(fit.logits(features[held_out]).astype(np.float64)))
    return probabilities


def log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
