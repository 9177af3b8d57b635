"""The report's confusion matrix, as PNG bytes, drawn with PIL (``core/drawing.py``). Sized to its
content: a cell is 56 px for a few classes, 14 px from about 45 classes, smaller past the cap on the
matrix's side; class names are cut to fit with an ellipsis; counts are written up to 25 classes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from trainer.training.core.drawing import SCALE, Canvas, fit, text_width

INK, MUTED, FRAME, ZERO = "#222222", "#6b6b6b", "#b5b5b5", "#b0b0b0"
MARGIN = 16
COUNTS_UP_TO = 25  # classes; beyond, a cell is too small to hold a count
MATRIX_CAP = 1600  # px, the matrix's side at most
LABEL_WIDTH = 180  # px, longer class names are cut with an ellipsis
NAME_SIZE = 11  # px, the class names' font
HEADER = 108  # px above the matrix: title, notes, shade key

# matplotlib's "Blues": a cell's colour for its share of the row, 0..255
_BLUES = ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"]
_STOPS = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in _BLUES], dtype=np.float64)
SHADES = (
    np.stack(
        [np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_BLUES)), _STOPS[:, c]) for c in range(3)], 1
    )
    .round()
    .astype(np.uint8)
)


def row_shares(matrix: np.ndarray) -> np.ndarray:
    """Each count as a share of its row (its true class); 0 in a row without examples."""
    totals = matrix.sum(1, keepdims=True).astype(np.float64)
    return np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=np.float64), where=totals > 0)


@dataclass(frozen=True)
class MatrixLayout:
    """Where the figure puts things, in px: cell (row, col) spans ``left + col * cell`` .. ``+ cell``."""

    cell: int
    left: int
    top: int
    width: int
    height: int
    names: list[str]  # the class names as drawn (cut to LABEL_WIDTH)
    labelled: list[int]  # the classes whose name is drawn (every one, unless the cells are very small)
    upright: bool  # the column names side by side (else turned a quarter, read from bottom to top)
    counts_size: int | None  # font of the counts, None where they are left out
    notes: tuple[str, str]


def matrix_layout(matrix: np.ndarray, classes: list[str]) -> MatrixLayout:
    n = len(classes)
    cell = int(min(56, max(14, 640 / max(n, 1))))
    if cell * n > MATRIX_CAP:
        cell = max(1, MATRIX_CAP // n)
    every = max(1, math.ceil(13 / cell))  # a line of text per labelled class
    names = [fit(name, NAME_SIZE, LABEL_WIDTH) for name in classes]
    labelled = list(range(0, n, every))
    name_width = math.ceil(max((text_width(names[k], NAME_SIZE) for k in labelled), default=0))
    upright = name_width <= cell - 4
    counts_size = _counts_size(matrix, cell) if 0 < n <= COUNTS_UP_TO else None
    if counts_size:
        counted = "numbers: counts"
    elif n > COUNTS_UP_TO:
        counted = f"counts in confusion_matrix.json (over {COUNTS_UP_TO} classes)"
    else:
        counted = "counts in confusion_matrix.json"
    notes = (
        "rows: true class; columns: predicted class",
        f"shade: share of the true class's examples; {counted}",
    )
    left = MARGIN + 20 + name_width + 8
    side = cell * n
    totals = _totals_width(matrix) if counts_size else 0
    width = max(
        left + side + totals + MARGIN, MARGIN * 2 + math.ceil(max(text_width(t, 11) for t in notes)), 260
    )
    below = 6 + (14 if upright else name_width) + 10 + 16
    return MatrixLayout(
        cell=cell,
        left=left,
        top=HEADER,
        width=width,
        height=HEADER + side + below + MARGIN,
        names=names,
        labelled=labelled,
        upright=upright,
        counts_size=counts_size,
        notes=notes,
    )


def confusion_png(matrix: np.ndarray, classes: list[str]) -> bytes:
    """Rows are true classes, columns predictions. A cell's shade is its share of the row, so a rare
    class's mistakes show as plainly as a common one's; its number is the count, and a last column
    gives each row's total."""
    layout = matrix_layout(matrix, classes)
    x0, y0, cell, n = layout.left, layout.top, layout.cell, len(classes)
    side = cell * n
    canvas = Canvas(layout.width, layout.height)
    canvas.text((MARGIN, 14), "Confusion matrix", size=15, fill=INK)
    canvas.text((MARGIN, 40), layout.notes[0], size=11, fill=MUTED)
    canvas.text((MARGIN, 56), layout.notes[1], size=11, fill=MUTED)
    _shade_key(canvas, MARGIN, 80)
    if n == 0:
        return canvas.png()

    shares = row_shares(matrix)
    colours = SHADES[(shares * 255).round().astype(np.intp)]
    canvas.image.paste(
        Image.fromarray(colours).resize((side * SCALE, side * SCALE), Image.Resampling.NEAREST),
        (x0 * SCALE, y0 * SCALE),
    )
    if cell >= 8:  # a white gap between cells
        for k in range(1, n):
            canvas.line([(x0 + k * cell, y0), (x0 + k * cell, y0 + side)], "white")
            canvas.line([(x0, y0 + k * cell), (x0 + side, y0 + k * cell)], "white")
    if layout.counts_size:
        for (row, col), count in np.ndenumerate(matrix):
            ink = "white" if shares[row, col] > 0.55 else (INK if count else ZERO)
            centre = (x0 + (col + 0.5) * cell, y0 + (row + 0.5) * cell)
            canvas.text(centre, str(count), size=layout.counts_size, fill=ink, anchor="mm")
        canvas.text((x0 + side + 12, y0 - 4), "total", size=NAME_SIZE, fill=MUTED, anchor="lb")
        for row, total in enumerate(matrix.sum(1)):
            middle = (x0 + side + 12, y0 + (row + 0.5) * cell)
            canvas.text(middle, str(total), size=NAME_SIZE, fill=MUTED, anchor="lm")
    for k in layout.labelled:
        name, middle = layout.names[k], (k + 0.5) * cell
        canvas.text((x0 - 6, y0 + middle), name, size=NAME_SIZE, fill=INK, anchor="rm")
        if layout.upright:
            canvas.text((x0 + middle, y0 + side + 6), name, size=NAME_SIZE, fill=INK, anchor="mt")
        else:
            canvas.vertical_text((x0 + middle, y0 + side + 6), name, size=NAME_SIZE, fill=INK, anchor="rm")
    canvas.vertical_text((MARGIN + 6, y0 + side / 2), "true", size=12, fill=INK, anchor="mm")
    canvas.text((x0 + side / 2, layout.height - MARGIN), "predicted", size=12, fill=INK, anchor="mb")
    return canvas.png()


def _counts_size(matrix: np.ndarray, cell: int) -> int | None:
    """The largest font (up to 13 px) in which every count fits its cell; None if none from 8 px does."""
    widest = str(int(matrix.max())) if matrix.size else "0"
    sizes = range(min(13, cell // 2), 7, -1)
    return next((size for size in sizes if text_width(widest, size) <= cell - 4), None)


def _totals_width(matrix: np.ndarray) -> int:
    widest = max([text_width("total", NAME_SIZE)] + [text_width(str(t), NAME_SIZE) for t in matrix.sum(1)])
    return 12 + math.ceil(widest)


def _shade_key(canvas: Canvas, x: float, y: float, length: int = 120) -> None:
    """The colour ramp from an empty cell to a whole row."""
    canvas.text((x, y + 4), "0%", size=10, fill=MUTED, anchor="lm")
    start = round(x + text_width("0%", 10) + 6)
    ramp = Image.fromarray(np.repeat(SHADES[None], 2, axis=0)).resize((length * SCALE, 8 * SCALE))
    canvas.image.paste(ramp, (start * SCALE, round(y * SCALE)))
    canvas.rectangle((start, y, start + length, y + 8), outline=FRAME)
    canvas.text((start + length + 6, y + 4), "100% of the row", size=10, fill=MUTED, anchor="lm")
