"""L-BFGS in numpy, for the smooth convex problems a run fits on frozen features (a logistic-regression
head of a few thousand parameters): tens of iterations of small matrix products, where importing
``scipy.optimize`` alone cost half a second of a five-second quick run.

Two-loop recursion over the last ``memory`` steps (Nocedal & Wright, algorithm 7.4) with the scaled
identity as the initial Hessian; a backtracking line search with the sufficient-decrease condition
and safeguarded quadratic interpolation; a pair whose curvature ``s.y`` is not positive is not kept
(so the implied Hessian stays positive definite without a Wolfe search). It stops, as scipy's
L-BFGS-B does, when the largest gradient component is at most ``gtol`` or the objective's relative
decrease in one iteration is at most ``ftol``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]  # x -> (value, gradient)
History = deque[tuple[np.ndarray, np.ndarray, float]]  # (s, y, 1 / s.y) of the last steps

ARMIJO = 1e-4  # sufficient decrease: f(x + t d) <= f(x) + ARMIJO * t * g.d
MAX_BACKTRACKS = 40


@dataclass(frozen=True)
class Minimum:
    x: np.ndarray
    value: float
    iterations: int
    converged: bool  # a stopping test held (not the iteration limit or a failed line search)


def minimize_lbfgs(
    objective: Objective,
    x0: np.ndarray,
    *,
    gtol: float = 1e-6,
    ftol: float = 1e-10,
    max_iterations: int = 1000,
    memory: int = 10,
    callback: Callable[[np.ndarray], None] | None = None,
) -> Minimum:
    """Minimise ``objective`` from ``x0``; ``callback(x)`` after every iteration."""
    x = np.asarray(x0, dtype=np.float64).copy()
    value, grad = objective(x)
    steps: History = deque(maxlen=memory)
    if np.abs(grad).max(initial=0.0) <= gtol:
        return Minimum(x, value, 0, True)
    for iteration in range(1, max_iterations + 1):
        direction = -_inverse_hessian_times(grad, steps)
        slope = float(grad @ direction)
        if slope >= 0:  # not a descent direction (numerical trouble): restart from steepest descent
            steps.clear()
            direction, slope = -grad, -float(grad @ grad)
        # The first step has no curvature to scale it: keep its length at most 1.
        step = 1.0 if steps else min(1.0, 1.0 / max(float(np.abs(grad).max()), 1e-12))
        for _ in range(MAX_BACKTRACKS):
            new_x = x + step * direction
            new_value, new_grad = objective(new_x)
            if np.isfinite(new_value) and new_value <= value + ARMIJO * step * slope:
                break
            # Minimum of the quadratic through f(0), f'(0) and f(step), kept within [0.1, 0.5] * step.
            excess = new_value - value - slope * step
            trial = -slope * step * step / (2 * excess) if np.isfinite(excess) and excess > 0 else 0.5 * step
            step = min(max(trial, 0.1 * step), 0.5 * step)
        else:
            return Minimum(x, value, iteration - 1, False)
        s, y = new_x - x, new_grad - grad
        curvature = float(s @ y)
        if curvature > 1e-10 * float(np.linalg.norm(s) * np.linalg.norm(y)):
            steps.append((s, y, 1.0 / curvature))
        previous = value
        x, value, grad = new_x, new_value, new_grad
        if callback is not None:
            callback(x)
        if np.abs(grad).max() <= gtol or previous - value <= ftol * max(abs(previous), abs(value), 1.0):
            return Minimum(x, value, iteration, True)
    return Minimum(x, value, max_iterations, False)


def _inverse_hessian_times(grad: np.ndarray, steps: History) -> np.ndarray:
    """The two-loop recursion: the L-BFGS inverse-Hessian approximation applied to ``grad``."""
    q = grad.copy()
    alphas = []
    for s, y, rho in reversed(steps):
        alpha = rho * float(s @ q)
        q -= alpha * y
        alphas.append(alpha)
    if steps:
        s, y, _ = steps[-1]
        q *= float(s @ y) / float(y @ y)
    for (s, y, rho), alpha in zip(steps, reversed(alphas), strict=True):
        beta = rho * float(y @ q)
        q += (alpha - beta) * s
    return q
