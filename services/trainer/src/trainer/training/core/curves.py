"""The report's curves, as PNG bytes: accuracy and loss of every phase of a run, drawn with PIL
(``core/drawing.py``) in about 10 ms."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from trainer.training.core.drawing import Canvas, decimals, fit, nice_step, text_width, ticks

INK, MUTED, GRID, FRAME, BOUNDARY = "#222222", "#6b6b6b", "#ececec", "#b5b5b5", "#8c8c8c"
SERIES = (("train", "train", "#1f77b4"), ("val", "validation", "#e8710a"))
MARKERS_UP_TO = 30  # points per series drawn as dots as well as a line
MARGIN = 16
PLOTTABLE = 1e12  # |value| beyond this is left out, as NaN is


def _number(value: Any) -> float | None:
    """A plottable float, or None for a missing, non-numeric, NaN, infinite or astronomically large value
    (a diverged loss of 1e300 would leave no room on the axis for anything else, nor for its limits)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if abs(value) <= PLOTTABLE else None


@dataclass(frozen=True)
class Phase:
    name: str
    start: int  # index of its first row
    end: int  # one past its last row


def phases(history: list[dict[str, Any]]) -> list[Phase]:
    """Runs of consecutive rows with one ``stage``."""
    found: list[Phase] = []
    for k, row in enumerate(history):
        name = str(row.get("stage") or "")
        if found and found[-1].name == name:
            found[-1] = Phase(name, found[-1].start, k + 1)
        else:
            found.append(Phase(name, k, k + 1))
    return found


@dataclass(frozen=True)
class _Axis:
    low: float
    high: float
    ticks: list[float]
    labels: list[str]


def _x_axis(steps: int) -> _Axis:
    if steps == 0:
        return _Axis(0.5, 1.5, [], [])
    step = nice_step(steps, 8, integer=True)
    marks = ticks(1, steps, step)
    if not marks or marks[0] - 1 >= step / 2:
        marks.insert(0, 1.0)
    return _Axis(0.5, steps + 0.5, marks, [f"{t:.0f}" for t in marks])


def _y_axis(values: list[float], *, fraction: bool) -> _Axis:
    """Round limits around ``values``; a fraction (accuracy) stays within 0..1 and reads in percent."""
    if not values:
        return _Axis(0.0, 1.0, [], [])
    low, high = min(values), max(values)
    pad = max((high - low) * 0.08, 0.03 if fraction else max(abs(high) * 0.05, 1e-3))
    low, high = low - pad, high + pad
    if min(values) >= 0:
        low = max(low, 0.0)
    if fraction and max(values) <= 1:
        high = min(high, 1.0)
    step = nice_step(high - low, 5)
    low, high = math.floor(low / step + 1e-9) * step, math.ceil(high / step - 1e-9) * step
    marks = ticks(low, high, step)
    if fraction:
        labels = [f"{t * 100:.{decimals(step * 100)}f}%" for t in marks]
    elif max(abs(low), abs(high)) >= 1e5:
        labels = [f"{t:.3g}" for t in marks]
    else:
        labels = [f"{t:.{decimals(step)}f}" for t in marks]
    margin = (high - low) * 0.03  # points on the limits stay off the frame
    return _Axis(low - margin, high + margin, marks, labels)


def _series(history: list[dict[str, Any]], key: str, cuts: set[int]) -> list[list[tuple[int, float]]]:
    """(step, value) runs of ``key``, broken where a value is missing or not finite and where a phase
    starts (a probe's accuracy and the next phase's first epoch are different things, not a slope)."""
    runs: list[list[tuple[int, float]]] = [[]]
    for k, row in enumerate(history):
        value = _number(row.get(key))
        if k in cuts or value is None:
            runs.append([])
        if value is not None:
            runs[-1].append((k + 1, value))
    return [run for run in runs if run]


def series_summary(lines: dict[str, list[list[tuple[int, float]]]], *, fraction: bool) -> str:
    """The validation series' last value and its best (the train series' where there is no validation)."""
    key, label = ("val", "validation") if lines["val"] else ("train", "train")
    points = [point for run in lines[key] for point in run]
    if not points:
        return ""
    best = max(points, key=lambda p: p[1]) if fraction else min(points, key=lambda p: p[1])

    def show(value: float) -> str:
        return f"{value:.1%}" if fraction else f"{value:.4g}"

    text = f"{label}: last {show(points[-1][1])}"
    if show(best[1]) != show(points[-1][1]):
        text += f", {'best' if fraction else 'lowest'} {show(best[1])} at step {best[0]}"
    return text


def _phase_label_rows(
    spans: list[tuple[float, str]], *, left: float, right: float
) -> list[tuple[float, int, str]]:
    """Each phase's name just after its start (just before it where the plot ends first), moved down a
    row where it would overlap the one before."""
    placed: list[tuple[float, int, str]] = []
    row_ends: list[float] = []
    for start, name in spans:
        width = text_width(name, 11)
        x = max(start + 4, left + 4)
        if x + width > right - 4:
            x = max(start - 4 - width, left + 4)
        row = next((r for r, end in enumerate(row_ends) if x >= end + 8), len(row_ends))
        if row == len(row_ends):
            row_ends.append(x + width)
        else:
            row_ends[row] = x + width
        placed.append((x, row, name))
    return placed


def _panel(
    canvas: Canvas,
    box: tuple[float, float, float, float],
    *,
    title: str,
    metric: str,
    history: list[dict[str, Any]],
) -> None:
    left, top, right, bottom = box
    found = phases(history)
    cuts = {phase.start for phase in found[1:]}
    lines = {key: _series(history, f"{key}_{metric}", cuts) for key, _, _ in SERIES}
    values = [v for runs in lines.values() for run in runs for _, v in run]
    y = _y_axis(values, fraction=metric == "acc")
    x = _x_axis(len(history))
    plot_left = math.ceil(left + max((text_width(label, 11) for label in y.labels), default=0) + 8)
    spans = [(phase.start + 0.5, phase.name) for phase in found if phase.name]

    def to_x(step: float) -> float:
        return plot_left + (step - x.low) / (x.high - x.low) * (right - plot_left)

    labels = _phase_label_rows([(to_x(s), name) for s, name in spans], left=plot_left, right=right)
    plot_top = top + 24 + 14 * (1 + max((row for _, row, _ in labels), default=-1))
    plot_bottom = bottom - 34

    def to_y(value: float) -> float:
        return plot_bottom - (value - y.low) / (y.high - y.low) * (plot_bottom - plot_top)

    width = canvas.text((left, top), title, size=13, fill=INK)
    summary = series_summary(lines, fraction=metric == "acc")
    if summary:
        canvas.text(
            (left + width + 10, top + 2), fit(summary, 11, right - left - width - 10), size=11, fill=MUTED
        )
    for mark, label in zip(y.ticks, y.labels, strict=True):
        canvas.line([(plot_left, to_y(mark)), (right, to_y(mark))], GRID, snap=True)
        canvas.text((plot_left - 6, to_y(mark)), label, size=11, fill=MUTED, anchor="rm")
    for mark, label in zip(x.ticks, x.labels, strict=True):
        canvas.line([(to_x(mark), plot_bottom), (to_x(mark), plot_bottom + 4)], FRAME, snap=True)
        canvas.text((to_x(mark), plot_bottom + 7), label, size=11, fill=MUTED, anchor="mt")
    canvas.text(
        ((plot_left + right) / 2, bottom),
        "step (an epoch, or an L-BFGS iteration of a fitted head)",
        size=11,
        fill=MUTED,
        anchor="mb",
    )
    for start, _ in spans[1:]:
        canvas.dashed((to_x(start), plot_top - 14), (to_x(start), plot_bottom), BOUNDARY)
    for lx, row, name in labels:
        canvas.text((lx, top + 24 + 14 * row), name, size=11, fill=MUTED)
    for key, _, colour in SERIES:
        dots = sum(len(run) for run in lines[key]) <= MARKERS_UP_TO
        for run in lines[key]:
            points = [(to_x(step), to_y(value)) for step, value in run]
            if len(points) > 1:
                canvas.line(points, colour, width=1.75)
            if dots or len(points) == 1:
                for px, py in points:
                    canvas.dot(px, py, 2.75, colour)
    canvas.rectangle((plot_left, plot_top, right + 1, plot_bottom + 1), outline=FRAME)
    if not values:
        canvas.text(
            ((plot_left + right) / 2, (plot_top + plot_bottom) / 2),
            "no values recorded",
            size=12,
            fill=MUTED,
            anchor="mm",
        )


def curves_png(history: list[dict[str, Any]], *, width: int = 960, height: int = 380) -> bytes:
    """Accuracy and loss, train and validation, one point per history row (a fine-tuning run's probe,
    then its epochs; a quick run's L-BFGS iterations), a dashed line and the phase's name where a phase
    starts. Missing, NaN and infinite values are left out; an empty history draws empty axes."""
    canvas = Canvas(width, height)
    canvas.text((MARGIN, 14), "Training curves", size=15, fill=INK)
    present = [
        (label, colour)
        for key, label, colour in SERIES
        if any(_number(row.get(f"{key}_{m}")) is not None for row in history for m in ("acc", "loss"))
    ]
    legend_x = width - MARGIN
    if len(phases(history)) > 1:
        legend_x -= text_width("phase start", 11)
        canvas.text((legend_x, 21), "phase start", size=11, fill=INK, anchor="lm")
        canvas.dashed((legend_x - 8, 14), (legend_x - 8, 28), BOUNDARY)
        legend_x -= 24
    for label, colour in reversed(present):
        legend_x -= text_width(label, 11)
        canvas.text((legend_x, 21), label, size=11, fill=INK, anchor="lm")
        canvas.line([(legend_x - 26, 21), (legend_x - 6, 21)], colour, width=1.75)
        canvas.dot(legend_x - 16, 21, 2.75, colour)
        legend_x -= 42
    middle = width / 2
    for box, title, metric in (
        ((MARGIN, 48, middle - 16, height - 12), "Accuracy", "acc"),
        ((middle + 16, 48, width - MARGIN, height - 12), "Loss", "loss"),
    ):
        _panel(canvas, box, title=title, metric=metric, history=history)
    return canvas.png()
