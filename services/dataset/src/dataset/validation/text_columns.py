"""Which column holds the text and which the label, and how label values become class names.

Column choice, in order: the columns the request names; else header names (``text``/``sms``/``review``...
and ``label``/``class``/``sentiment``/``score``...) when exactly one of each matches; else the content:
the text column is the one with clearly the longest values, the label column the only other column
that looks like classes (few distinct values) or scores (numbers). Anything else is ambiguous and the
request must name the columns.

Label values: trimmed. A numeric label column whose values are all integers with few distinct values
is used as class names as written ("1".."5" stay five classes). Any other numeric column is a score,
binned on its scale into negative / neutral / positive (see ``score_bins``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from dataset.validation.report import Code, refuse
from dataset.validation.text_reader import LABEL_NAMES, SCORE_NAMES, TEXT_NAMES, Table

# Score scales we recognise, tried in order; the first that contains every value is used.
SCALES: tuple[tuple[float, float], ...] = ((0, 1), (-1, 1), (1, 5), (0, 5), (1, 10), (0, 10), (0, 100))
NEGATIVE_BELOW, POSITIVE_ABOVE = 0.4, 0.6  # positions on the scale, 0 = its low end, 1 = its high end


@dataclass(frozen=True)
class ColumnChoice:
    text: int
    label: int
    how: str


@dataclass(frozen=True)
class ScoreBins:
    low: float
    high: float
    negative_below: float
    positive_above: float

    def label(self, value: float) -> str:
        if value < self.negative_below:
            return "negative"
        if value > self.positive_above:
            return "positive"
        return "neutral"

    def describe(self) -> str:
        return (
            f"scores on a {self.low:g}..{self.high:g} scale: below {self.negative_below:g} is 'negative', "
            f"above {self.positive_above:g} is 'positive', in between is 'neutral'"
        )


def _resolve(table: Table, wanted: str, role: str) -> int:
    names = [c.lower() for c in table.columns]
    key = wanted.strip().lower()
    if key in names:
        return names.index(key)
    if key.isdigit() and 1 <= int(key) <= len(table.columns):
        return int(key) - 1
    raise refuse(
        Code.column_not_found,
        f"The {role} column {wanted!r} is not in the file; its columns are: {', '.join(table.columns)}. "
        f"Send {role}_column as one of those names (or a 1-based position).",
    )


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip().lower() not in ("nan", "inf", "-inf", "infinity", "")


def _ambiguous(table: Table, reason: str) -> Exception:
    return refuse(
        Code.columns_ambiguous,
        f"Cannot tell which column is the text and which the label ({reason}). The columns are: "
        f"{', '.join(table.columns)}. Send text_column and label_column with the upload.",
    )


def _looks_like_labels(column: list[str], *, max_classes: int) -> bool:
    """Few distinct values (classes), or numbers (scores) that are not a running identifier."""
    if not column:
        return False
    distinct = set(column)
    if len(distinct) <= max_classes:
        return True
    if not all(_is_number(v) for v in distinct):
        return False
    is_identifier = len(distinct) == len(column) and all(float(v).is_integer() for v in distinct)
    return not is_identifier


def choose_columns(
    table: Table, *, text_column: str | None, label_column: str | None, max_classes: int
) -> ColumnChoice:
    if text_column and label_column:
        choice = ColumnChoice(
            _resolve(table, text_column, "text"), _resolve(table, label_column, "label"), "named"
        )
        if choice.text == choice.label:
            raise _ambiguous(table, "text_column and label_column name the same column")
        return choice
    names = [c.lower() for c in table.columns]
    texts = [i for i, n in enumerate(names) if n in TEXT_NAMES]
    labels = [i for i, n in enumerate(names) if n in LABEL_NAMES | SCORE_NAMES]
    if text_column:
        texts = [_resolve(table, text_column, "text")]
    if label_column:
        labels = [_resolve(table, label_column, "label")]
    if len(texts) == 1 and len(labels) == 1 and texts != labels:
        return ColumnChoice(texts[0], labels[0], "header names")

    sample = [fields for _line, fields in table.rows[:2000]]
    width = len(table.columns)
    values = [[r[i].strip() for r in sample if i < len(r) and r[i].strip()] for i in range(width)]
    mean_length = [statistics.fmean(len(v) for v in col) if col else 0.0 for col in values]
    label_like = [_looks_like_labels(col, max_classes=max_classes) for col in values]
    if len(texts) != 1:
        ranked = sorted(range(width), key=lambda i: mean_length[i], reverse=True)
        if width < 2 or (len(ranked) > 2 and mean_length[ranked[1]] * 1.5 > mean_length[ranked[0]]):
            raise _ambiguous(table, "no column has clearly the longest values")
        texts = [ranked[0]]
    if len(labels) != 1:
        labels = [i for i in range(width) if i != texts[0] and label_like[i]]
        if len(labels) != 1:
            found = "no other column looks like labels" if not labels else "several columns look like labels"
            raise _ambiguous(table, found)
    if texts[0] == labels[0]:
        raise _ambiguous(table, "the same column looks like both")
    return ColumnChoice(texts[0], labels[0], "content")


def score_bins(values: list[float]) -> ScoreBins:
    low, high = min(values), max(values)
    scale = next(((a, b) for a, b in SCALES if a <= low and high <= b), (low, high))
    a, b = scale
    span = (b - a) or 1.0
    return ScoreBins(
        low=a, high=b, negative_below=a + NEGATIVE_BELOW * span, positive_above=a + POSITIVE_ABOVE * span
    )


def label_mapper(raw_labels: list[str], *, max_classes: int) -> tuple[dict[str, str], ScoreBins | None]:
    """Map each distinct trimmed label value to its class name; the bins when scores were binned."""
    distinct = {v for v in raw_labels if v}
    if not distinct or not all(_is_number(v) for v in distinct):
        return {v: v for v in distinct}, None
    numbers = {v: float(v) for v in distinct}
    if (
        all(x.is_integer() for x in numbers.values())
        and len({int(x) for x in numbers.values()}) <= max_classes
    ):
        return {v: str(int(x)) for v, x in numbers.items()}, None
    bins = score_bins(list(numbers.values()))
    return {v: bins.label(x) for v, x in numbers.items()}, bins
