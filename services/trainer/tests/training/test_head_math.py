"""The numerics under the linear head: the numpy L-BFGS, and the feature normalisation the head sees,
which exists three times (numpy for fitting, torch in the network, ONNX in the served graph)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper
from sklearn.linear_model import LogisticRegression
from trainer.training.core.lbfgs import minimize_lbfgs
from trainer.training.image.feature_norm import normalise, onnx_nodes
from trainer.training.image.linear_probe import fit_probe
from trainer.training.image.models import FeatureNorm


def test_lbfgs_finds_the_minimum_of_a_quadratic():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 12))
    hessian = a.T @ a + 0.5 * np.eye(12)
    b = rng.normal(size=12)
    seen: list[np.ndarray] = []

    result = minimize_lbfgs(
        lambda x: (0.5 * x @ hessian @ x - b @ x, hessian @ x - b),
        np.zeros(12),
        gtol=1e-10,
        ftol=0.0,
        callback=lambda x: seen.append(x.copy()),
    )

    assert result.converged and result.iterations == len(seen) >= 2
    np.testing.assert_allclose(result.x, np.linalg.solve(hessian, b), atol=1e-8)


def test_lbfgs_follows_the_rosenbrock_valley_and_reports_the_iteration_limit():
    def rosenbrock(x: np.ndarray) -> tuple[float, np.ndarray]:
        value = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
        grad = np.array([-400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0]), 200 * (x[1] - x[0] ** 2)])
        return float(value), grad

    solved = minimize_lbfgs(rosenbrock, np.array([-1.2, 1.0]), gtol=1e-8, ftol=0.0)
    stopped = minimize_lbfgs(rosenbrock, np.array([-1.2, 1.0]), max_iterations=3)

    assert solved.converged
    np.testing.assert_allclose(solved.x, [1.0, 1.0], atol=1e-5)
    assert not stopped.converged and stopped.iterations == 3


def test_probe_equals_scikit_learns_logistic_regression_on_standardised_features():
    # Same minimiser as LogisticRegression(C) on StandardScaler output (multinomial, bias unpenalised):
    # ours is mean loss + ||W||^2 / (2 C n), sklearn's C * summed loss + ||W||^2 / 2, i.e. C n times it.
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(4), 30)
    features = rng.normal(size=(120, 40)) + np.eye(4, 40)[labels] * 1.5
    c = 0.5

    fit = fit_probe(features, labels, num_classes=4, c=c, record=False, tolerance=1e-9)
    mean, scale = features.mean(0), features.std(0)
    reference = LogisticRegression(C=c, tol=1e-10, max_iter=10_000).fit((features - mean) / scale, labels)

    expected = reference.decision_function((features - mean) / scale)
    ours = fit.logits(features)
    # Logits are defined up to a constant per row: compare them centred.
    np.testing.assert_allclose(
        ours - ours.mean(1, keepdims=True), expected - expected.mean(1, keepdims=True), atol=2e-3
    )


def _onnx_normalise(x: np.ndarray) -> np.ndarray:
    nodes, initializers, output = onnx_nodes("sqrt", "x")
    graph = helper.make_graph(
        nodes,
        "norm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", x.shape[1]])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["n", x.shape[1]])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run([output], {"x": x})[0]


def test_feature_norm_is_the_same_function_in_numpy_torch_and_onnx():
    rng = np.random.default_rng(5)
    x = np.concatenate([np.zeros((1, 16)), rng.normal(size=(7, 16)) * 3]).astype(np.float32)

    expected = np.sign(x) * (np.sqrt(np.abs(x) + 0.01) - 0.1)
    in_numpy = normalise(x, "sqrt")
    with torch.no_grad():
        in_torch = FeatureNorm("sqrt")(torch.from_numpy(x)).numpy()
    in_onnx = _onnx_normalise(x)

    np.testing.assert_allclose(in_numpy, expected, atol=1e-6)
    np.testing.assert_allclose(in_torch, in_numpy, atol=1e-6)
    np.testing.assert_allclose(in_onnx, in_numpy, atol=1e-6)
    assert in_numpy[0].tolist() == [0.0] * 16  # zero stays zero
    assert normalise(x, "none") is x


@pytest.mark.parametrize("value", [0.0, 1e-6, 2.0])
def test_feature_norm_slope_stays_finite_for_fine_tuning(value):
    x = torch.tensor([value], requires_grad=True)
    FeatureNorm("sqrt")(x).sum().backward()
    assert torch.isfinite(x.grad).all() and float(x.grad.abs().max()) <= 5.0 + 1e-6
