"""The run's figures, drawn with PIL: curves of every phase and a confusion matrix sized to its classes."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image
from trainer.training.core.confusion import (
    COUNTS_UP_TO,
    LABEL_WIDTH,
    MATRIX_CAP,
    confusion_png,
    matrix_layout,
)
from trainer.training.core.curves import BOUNDARY, SERIES, curves_png, phases, series_summary
from trainer.training.core.drawing import fit, text_width

TRAIN, VALIDATION = (colour for _, _, colour in SERIES)


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def near(image: Image.Image, colour: str, tolerance: int = 24) -> np.ndarray:
    """Mask of the pixels within ``tolerance`` of ``colour`` in every channel."""
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return (np.abs(np.asarray(image, dtype=np.int64) - rgb) <= tolerance).all(-1)


def below_legend(image: Image.Image) -> Image.Image:
    return image.crop((0, 40, image.width, image.height))


def lbfgs(rows: int, stage: str = "quick") -> list[dict]:
    return [
        {
            "epoch": i + 1,
            "stage": stage,
            "train_loss": 1.6 * math.exp(-i / 5) + 0.2,
            "train_acc": 0.5 + 0.45 * (1 - math.exp(-i / 4)),
            "val_loss": 1.6 * math.exp(-i / 5) + 0.3,
            "val_acc": 0.45 + 0.45 * (1 - math.exp(-i / 4)),
        }
        for i in range(rows)
    ]


FINETUNE = [{"epoch": 0, "stage": "probe", "val_loss": 0.31, "val_acc": 0.92}] + [
    {
        "epoch": e,
        "stage": "finetune",
        "train_loss": 0.5 / e,
        "train_acc": 0.9,
        "val_loss": 0.3,
        "val_acc": 0.93,
    }
    for e in range(1, 9)
]


def test_curves_draw_train_and_validation_in_the_plots():
    image = decode(curves_png(lbfgs(23)))
    assert image.size == (960, 380)
    plots = below_legend(image)
    assert near(plots, TRAIN).sum() > 300 and near(plots, VALIDATION).sum() > 300
    # both panels, accuracy on the left and loss on the right, hold both series
    for half in (plots.crop((0, 0, 480, plots.height)), plots.crop((480, 0, 960, plots.height))):
        assert near(half, TRAIN).sum() > 100 and near(half, VALIDATION).sum() > 100


def test_curves_leave_out_a_series_without_values():
    history = [{"stage": "probe", "val_loss": 0.5 - 0.01 * k, "val_acc": 0.8 + 0.01 * k} for k in range(10)]
    image = decode(curves_png(history))
    assert near(image, TRAIN).sum() == 0  # neither drawn nor in the legend
    assert near(below_legend(image), VALIDATION).sum() > 100


@pytest.mark.parametrize(
    ("history", "validation_drawn"),
    [
        ([], False),
        ([{"stage": "quick", "train_acc": 0.9, "val_acc": 0.85, "train_loss": 0.3, "val_loss": 0.4}], True),
        (
            [{"stage": "head", "val_acc": float("nan"), "val_loss": float("inf"), "train_loss": -math.inf}],
            False,
        ),
        ([{"stage": "head", "val_acc": None, "val_loss": "n/a"}, {"stage": "head", "val_acc": 0.5}], True),
        ([{"val_acc": np.float32(0.7), "val_loss": np.float64(0.2)}, {"val_acc": float("nan")}], True),
        ([{"stage": "head", "train_loss": 1e300, "val_loss": -1e300, "val_acc": 1.5}], True),
    ],
    ids=["empty", "one-row", "nan-and-inf", "none-and-text", "numpy-scalars", "huge-and-out-of-range"],
)
def test_curves_draw_what_is_finite_and_skip_the_rest(history, validation_drawn):
    image = decode(curves_png(history))
    assert image.size == (960, 380)
    assert (near(below_legend(image), VALIDATION).sum() > 10) == validation_drawn


def dashed_columns(image: Image.Image) -> set[int]:
    """x of the columns holding a long dashed phase boundary."""
    hits = near(below_legend(image), BOUNDARY, tolerance=12).sum(0)
    return {int(x) for x in np.flatnonzero(hits >= 60)}


def test_curves_mark_where_each_phase_starts():
    assert [(p.name, p.start, p.end) for p in phases(FINETUNE)] == [("probe", 0, 1), ("finetune", 1, 9)]
    columns = dashed_columns(decode(curves_png(FINETUNE)))
    assert any(x < 480 for x in columns) and any(x >= 480 for x in columns)  # in both panels
    assert dashed_columns(decode(curves_png(lbfgs(23)))) == set()  # one phase, no boundary


@pytest.mark.parametrize(
    ("train", "val", "fraction", "expected"),
    [
        ([(1, 0.5)], [(1, 0.8), (2, 0.93), (3, 0.92)], True, "validation: last 92.0%, best 93.0% at step 2"),
        ([(1, 0.5)], [(1, 0.4), (2, 0.31)], False, "validation: last 0.31"),
        ([], [(1, 0.9201), (2, 0.92)], True, "validation: last 92.0%"),  # no best that reads the same
        ([(1, 0.5), (2, 0.2), (3, 0.25)], [], False, "train: last 0.25, lowest 0.2 at step 2"),
        ([], [], True, ""),
    ],
)
def test_each_panel_titles_its_last_and_best_value(train, val, fraction, expected):
    lines = {"train": [train] if train else [], "val": [val] if val else []}
    assert series_summary(lines, fraction=fraction) == expected


def brightness(image: Image.Image, x: int, y: int) -> float:
    return float(np.mean(image.getpixel((x, y))))


def test_confusion_cell_is_darker_for_a_larger_count():
    matrix = np.array([[8, 2, 0], [1, 5, 4], [0, 0, 10]])
    image = decode(confusion_png(matrix, ["cat", "dog", "bird"]))
    layout = matrix_layout(matrix, ["cat", "dog", "bird"])

    def corner(row: int, col: int) -> float:  # off the count in the cell's middle
        return brightness(image, layout.left + col * layout.cell + 4, layout.top + row * layout.cell + 4)

    assert corner(0, 0) < corner(0, 1) < corner(0, 2)
    assert corner(1, 1) < corner(1, 2) < corner(1, 0)
    assert corner(2, 2) < corner(2, 0) == corner(2, 1)


def test_confusion_counts_contrast_with_their_cell():
    matrix = np.diag([90, 60, 40]) + 8
    layout = matrix_layout(matrix, ["a", "b", "c"])
    image = np.asarray(decode(confusion_png(matrix, ["a", "b", "c"])))
    cell = layout.cell
    dark = image[layout.top : layout.top + cell, layout.left : layout.left + cell]  # (0, 0): 98 of 114
    light = image[layout.top : layout.top + cell, layout.left + cell : layout.left + 2 * cell]  # (0, 1)
    assert (dark.min(-1) > 200).sum() > 10  # white digits on the dark cell
    assert (light.max(-1) < 80).sum() > 10  # dark digits on the light cell


@pytest.mark.parametrize("classes", [2, 5, 12, 25, 60])
def test_confusion_png_grows_with_the_classes(classes):
    matrix = np.eye(classes, dtype=np.int64) * 5
    names = [f"class {k}" for k in range(classes)]
    smaller = matrix_layout(np.eye(classes - 1, dtype=np.int64), names[:-1])
    image = decode(confusion_png(matrix, names))
    layout = matrix_layout(matrix, names)
    assert image.size == (layout.width, layout.height)
    assert layout.height > smaller.height and layout.cell * classes <= MATRIX_CAP
    assert layout.labelled == list(range(classes))  # every class named


def test_confusion_png_is_capped_for_very_many_classes():
    names = [f"c{k}" for k in range(500)]
    image = decode(confusion_png(np.eye(500, dtype=np.int64), names))
    layout = matrix_layout(np.eye(500, dtype=np.int64), names)
    assert max(image.size) <= MATRIX_CAP + 400
    assert layout.counts_size is None and 0 < len(layout.labelled) < 500


def test_confusion_counts_are_written_up_to_25_classes():
    def counts(n: int) -> int | None:
        return matrix_layout(np.full((n, n), 999), [str(k) for k in range(n)]).counts_size

    assert counts(COUNTS_UP_TO) is not None and counts(COUNTS_UP_TO + 1) is None


def test_confusion_cuts_long_names_and_draws_any_script():
    names = ["x" * 200, "café crème", "花", "🙂 emoji", "עברית", "Ωμέγα", ""]
    matrix = np.arange(49).reshape(7, 7)
    layout = matrix_layout(matrix, names)
    assert layout.names[0].endswith("…") and text_width(layout.names[0], 11) <= LABEL_WIDTH
    assert layout.names[1:] == names[1:]
    assert decode(confusion_png(matrix, names)).size == (layout.width, layout.height)


def test_write_reports_imports_no_matplotlib(tmp_path):
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        from common.store import LocalStore
        from trainer.training.core.outputs import write_outputs
        from trainer.training.core.reports import write_reports
        keys = write_reports(
            store=LocalStore({str(tmp_path)!r}), prefix="runs/r1/", classes=["a", "b"],
            history=[{{"stage": "quick", "val_acc": 0.5}}], labels=np.array([0, 1]),
            logits=np.array([[1.0, 0.0], [0.0, 1.0]]),
        )
        print(json.dumps({{"matplotlib": "matplotlib" in sys.modules, "keys": keys}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    outcome = json.loads(out.stdout.strip().splitlines()[-1])
    assert outcome["matplotlib"] is False
    for name in ("curves.png", "confusion_matrix.png"):
        decode((tmp_path / outcome["keys"][name]).read_bytes())


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [("roses", 100, "roses"), ("", 10, ""), ("sunflowers", 1, "…"), ("a b c d e f g h i j k l", 40, None)],
)
def test_fit_cuts_text_to_its_width_with_an_ellipsis(text, width, expected):
    cut = fit(text, 12, width)
    if expected is not None:
        assert cut == expected
    else:
        assert cut.endswith("…") and not cut.endswith(" …") and text.startswith(cut[:-1])
        assert text_width(cut, 12) <= width < text_width(text, 12)
