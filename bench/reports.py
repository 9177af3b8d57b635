"""Time of a run's two report figures (curves.png, confusion_matrix.png), import included.

Each case runs in a fresh interpreter: the import of the report module, then the figures drawn once
cold and the median of 5 more. Baseline in the same run: the matplotlib figures the reports drew
before (the code of ``core/reports.py`` at 6a5eaef, below), when matplotlib is importable; it is no
longer a dependency, so:

    uv run --with matplotlib==3.11.2 python bench/reports.py
"""

from __future__ import annotations

import _bench_path  # noqa: F401 - first: takes bench/ off sys.path (see bench/_bench_path.py)

# isort: split

import json
import platform
import subprocess
import sys
import textwrap

CASES = [(5, 100), (5, 23), (25, 100), (100, 100)]  # (classes, history rows)

SETUP = """
import math, statistics, time
import numpy as np
rng = np.random.default_rng(0)
history = [{"epoch": i + 1, "stage": "probe" if i < ROWS // 4 else "finetune",
            "train_loss": 1.6 * math.exp(-i / 9) + 0.2, "train_acc": 0.5 + 0.45 * (1 - math.exp(-i / 8)),
            "val_loss": 1.6 * math.exp(-i / 9) + 0.3, "val_acc": 0.45 + 0.45 * (1 - math.exp(-i / 8))}
           for i in range(ROWS)]
matrix = rng.integers(0, 5, (CLASSES, CLASSES)) + np.eye(CLASSES, dtype=np.int64) * 40
classes = [f"class name {k}" for k in range(CLASSES)]
"""

PIL_CASE = """
import trainer.training  # the package (pydantic, the configs) is imported by any run anyway
started = time.perf_counter()
from trainer.training.core.confusion import confusion_png
from trainer.training.core.curves import curves_png
imported = time.perf_counter() - started
def draw():
    return len(curves_png(history)) + len(confusion_png(matrix, classes))
"""

MATPLOTLIB_CASE = """
started = time.perf_counter()
import io
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
imported = time.perf_counter() - started

def curves_figure(history):
    steps = list(range(1, len(history) + 1))
    figure, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    starts = [k for k, row in enumerate(history) if k == 0 or row.get("stage") != history[k - 1].get("stage")]
    for ax, metric, title in ((acc_ax, "acc", "accuracy"), (loss_ax, "loss", "loss")):
        for split, label in (("train", "train"), ("val", "validation")):
            points = [(x, row.get(f"{split}_{metric}")) for x, row in zip(steps, history, strict=True)]
            points = [(x, y) for x, y in points if y is not None]
            if points:
                ax.plot(*zip(*points, strict=True), label=label, marker="." if len(points) < 30 else None)
        for k in starts:
            if len(starts) > 1:
                ax.axvline(steps[k] - 0.5, color="grey", linestyle="--", linewidth=0.8)
            ax.annotate(str(history[k].get("stage", "")), (steps[k], 1.0), xycoords=("data", "axes fraction"),
                        va="top", fontsize=8, color="grey")
        ax.set_xlabel("step (L-BFGS iteration for a fitted head, else epoch)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    return figure

def confusion_figure(matrix, classes):
    side = min(max(4.0, 0.6 * len(classes) + 2), 20.0)
    figure, ax = plt.subplots(figsize=(side, side), layout="constrained")
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(classes) <= 25:
        threshold = matrix.max() / 2 if matrix.size else 0
        for (row, col), count in np.ndenumerate(matrix):
            ax.text(col, row, str(count), ha="center", va="center",
                    color="white" if count > threshold else "black")
    return figure

def png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return len(buffer.getvalue())

def draw():
    return png(curves_figure(history)) + png(confusion_figure(matrix, classes))
"""

MEASURE = """
started = time.perf_counter(); size = draw(); cold = time.perf_counter() - started
warm = []
for _ in range(5):
    started = time.perf_counter(); draw(); warm.append(time.perf_counter() - started)
print(json.dumps({"import": imported, "cold": cold, "warm": statistics.median(warm), "bytes": size}))
"""


def measure(case: str, classes: int, rows: int) -> dict[str, float] | None:
    script = (
        "import json\n" + SETUP.replace("ROWS", str(rows)).replace("CLASSES", str(classes)) + case + MEASURE
    )
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True)
    if done.returncode != 0:
        if "No module named 'matplotlib'" in done.stderr:
            return None
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cells(figures: dict[str, float], width: int) -> str:
    return f"{figures['import'] * 1e3:{width}.0f} {figures['cold'] * 1e3:6.1f} {figures['warm'] * 1e3:7.1f}"


def main() -> None:
    import PIL

    machine = platform.processor() or platform.machine()
    print(f"{machine}, Python {platform.python_version()}, Pillow {PIL.__version__}")
    print("classes rows | PIL: import  first  median | matplotlib: import  first  median   (ms)")
    for classes, rows in CASES:
        ours = measure(PIL_CASE, classes, rows)
        theirs = measure(MATPLOTLIB_CASE, classes, rows)
        line = f"{classes:7d} {rows:4d} | {cells(ours, 11)}"
        if theirs is None:
            line += " | matplotlib not installed (uv run --with matplotlib==3.11.2 ...)"
        else:
            line += f" | {cells(theirs, 18)}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
