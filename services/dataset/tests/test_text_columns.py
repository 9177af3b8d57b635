"""Choosing the text and label columns, detecting the header, and mapping labels to classes."""

from __future__ import annotations

import pytest
from dataset.validation.report import UploadRefused
from dataset.validation.text_columns import choose_columns, label_mapper, score_bins
from dataset.validation.text_reader import Table, detect_header, sniff_delimiter


def table(columns: list[str], rows: list[list[str]]) -> Table:
    return Table(
        encoding="utf-8",
        delimiter=",",
        has_header=True,
        quoting="standard",
        columns=columns,
        rows=[(i + 2, r) for i, r in enumerate(rows)],
    )


LONG = [f"this is a fairly long piece of text number {i}" for i in range(40)]


@pytest.mark.parametrize(
    ("columns", "rows", "expected"),
    [
        (["sms", "Label"], [[t, "ham"] for t in LONG], (0, 1, "header names")),
        (["review", "stars"], [[t, "4"] for t in LONG], (0, 1, "header names")),
        (
            ["column_1", "column_2"],
            [["spam" if i % 2 else "ham", t] for i, t in enumerate(LONG)],
            (1, 0, "content"),
        ),
        (
            ["id", "blurb", "group"],
            [[str(i), t, "a" if i % 2 else "b"] for i, t in enumerate(LONG)],
            (1, 2, "content"),
        ),
    ],
    ids=["known-names", "score-name", "by-content", "id-column-ignored"],
)
def test_columns_are_chosen_when_unambiguous(columns, rows, expected):
    choice = choose_columns(table(columns, rows), text_column=None, label_column=None, max_classes=20)

    assert (choice.text, choice.label, choice.how) == expected


def test_two_label_like_columns_are_ambiguous():
    rows = [[t, "a" if i % 2 else "b", "x" if i % 3 else "y"] for i, t in enumerate(LONG)]

    with pytest.raises(UploadRefused) as refused:
        choose_columns(table(["c1", "c2", "c3"], rows), text_column=None, label_column=None, max_classes=20)

    assert refused.value.problem.code == "columns_ambiguous"
    assert "c1, c2, c3" in refused.value.problem.message


@pytest.mark.parametrize(
    ("rows", "header"),
    [
        ([["Label", "SMS"], ["ham", "hello there"], ["spam", "win a prize"]], True),
        ([["great film", "score"], ["loved it", "0.9"], ["hated it", "0.1"], ["meh", "0.5"]], True),
        ([["kind", "words"], ["pos", "a"], ["neg", "b"], ["pos", "c"], ["neg", "d"], ["pos", "e"]], True),
        (
            [
                ["pos", "good film"],
                ["neg", "bad film"],
                ["pos", "fine film"],
                ["neg", "awful"],
                ["pos", "ok"],
            ],
            False,
        ),
    ],
    ids=["known-name", "numeric-under-a-word", "label-value-never-repeats", "no-header"],
)
def test_header_is_detected(rows, header):
    assert detect_header(rows) is header


@pytest.mark.parametrize(
    ("sample", "filename", "delimiter"),
    [
        ("a,b\nc,d\ne,f\n", "x.csv", ","),
        ("a;b\nc, still c;d\ne;f\n", "x.csv", ";"),
        ("a\tb, with comma\nc\td\n", "x.txt", "\t"),
        ("a|b\nc|d\n", "x.csv", "|"),
        ('"a, quoted",b\n"c\nspans lines",d\n', "x.csv", ","),
    ],
    ids=["comma", "semicolon", "tab", "pipe", "quoted-newline"],
)
def test_delimiter_is_sniffed(sample, filename, delimiter):
    assert sniff_delimiter(sample, truncated=False, filename=filename) == delimiter


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["spam ", "ham"], {"spam ": "spam ", "ham": "ham"}),  # trimming happens before, per row
        (["1", "2", "3.0"], {"1": "1", "2": "2", "3.0": "3"}),
        (["-0.9", "0.05", "0.7"], {"-0.9": "negative", "0.05": "neutral", "0.7": "positive"}),
        (["0.1", "0.5", "0.95"], {"0.1": "negative", "0.5": "neutral", "0.95": "positive"}),
    ],
    ids=["words", "integer-classes", "score-minus-one-to-one", "score-zero-to-one"],
)
def test_labels_map_to_classes(values, expected):
    mapping, _bins = label_mapper(values, max_classes=20)

    assert mapping == expected


def test_many_distinct_integers_are_binned_as_scores():
    values = [str(v) for v in range(0, 101)]

    mapping, bins = label_mapper(values, max_classes=20)

    assert (bins.low, bins.high) == (0, 100)
    assert (mapping["10"], mapping["50"], mapping["90"]) == ("negative", "neutral", "positive")


@pytest.mark.parametrize(
    ("values", "scale"),
    [
        ([-0.5, 0.5], (-1, 1)),
        ([0.2, 0.8], (0, 1)),
        ([1.5, 4.5], (1, 5)),
        ([0.5, 9.5], (0, 10)),
        ([-5, 250], (-5, 250)),
    ],
)
def test_score_scale_is_the_smallest_standard_one_that_fits(values, scale):
    bins = score_bins(values)

    assert (bins.low, bins.high) == scale
