"""The CSV corpus through the real HTTP API: each file is read right, cleaned, or refused with its reason."""

from __future__ import annotations

import pytest
from dataset.testing import corpus
from dataset.testing.app import codes_of, owner_headers, post_dataset, report_of

ROWS = corpus.text_rows({"positive": 110, "negative": 110})


def _csv(rows=ROWS, **kwargs) -> str:
    return corpus.csv_text(rows, **kwargs)


def _with_row(row: tuple[str, str], at: int = 5) -> list[tuple[str, str]]:
    return [*ROWS[:at], row, *ROWS[at:]]


def _with_raw_line(line: str, *, delimiter: str = ",", at: int = 5) -> bytes:
    """A file whose line ``at + 2`` is written exactly as given, quotes and all."""
    lines = _csv(delimiter=delimiter).split("\r\n")
    lines.insert(at + 1, line)
    return "\r\n".join(lines).encode()


# (case id, file name, bytes, expected details, a problem code that must be reported or None)
READ = [
    (
        "utf8-bom",
        "bom.csv",
        _csv().encode("utf-8-sig"),
        {"encoding": "utf-8-sig", "columns": ["text", "label"]},
        None,
    ),
    ("utf16-bom", "wide.csv", _csv().encode("utf-16"), {"encoding": "utf-16", "delimiter": "comma"}, None),
    (
        "latin1",
        "old.csv",
        _csv(_with_row(("caf\u00e9 cr\u00e8me br\u00fbl\u00e9e", "positive"))).encode("latin-1"),
        {"encoding": "cp1252"},
        "encoding_fallback",
    ),
    ("semicolon", "euro.csv", _csv(delimiter=";").encode(), {"delimiter": "semicolon"}, None),
    ("tab", "data.tsv", _csv(delimiter="\t").encode(), {"delimiter": "tab"}, None),
    (
        "quoted-newline",
        "lines.csv",
        _csv(_with_row(("first line\nsecond line, with a comma", "negative"))).encode(),
        {"quoting": "standard"},
        None,
    ),
    (
        "200kb-field",
        "big.csv",
        _csv(_with_row(("x" * 200_000, "positive"))).encode(),
        {"delimiter": "comma"},
        "field_too_large",
    ),
    (
        "stray-quote-in-tsv",
        "raw.tsv",
        _with_raw_line('"quoted" then more\tpositive', delimiter="\t"),
        {"quoting": "none"},
        "quotes_ignored",
    ),
]


@pytest.mark.parametrize(
    ("filename", "content", "details", "code"), [c[1:] for c in READ], ids=[c[0] for c in READ]
)
async def test_csv_variant_is_read_correctly(client, filename, content, details, code):
    response = await post_dataset(client, filename, content)

    assert response.status_code == 201, response.text
    report = report_of(response)
    assert {k: report["details"][k] for k in details} == details
    assert report["details"]["text_column"] == "text"
    assert report["details"]["label_column"] == "label"
    if code is not None:
        assert code in codes_of(response)


async def test_accented_text_survives_the_cp1252_fallback(client):
    content = _csv(_with_row(("caf\u00e9 cr\u00e8me br\u00fbl\u00e9e", "positive"), at=0)).encode("latin-1")
    response = await post_dataset(client, "old.csv", content)

    preview = (await client.get(f"/datasets/{response.json()['id']}/preview", headers=owner_headers())).json()
    texts = [row["text"] for row in preview["classes"]["positive"]]
    assert "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e" in texts


async def test_quoted_newline_stays_inside_one_text(client, local_store):
    response = await post_dataset(
        client, "lines.csv", _csv(_with_row(("first line\nsecond line", "negative"))).encode()
    )

    manifest = local_store.get_bytes(response.json()["manifest_key"]).decode()
    assert "first line\\nsecond line" in manifest
    assert response.json()["class_counts"] == {"negative": 111, "positive": 110}


REFUSED = [
    (
        "unmatched-quote",
        "bad.csv",
        _with_raw_line('"never closed, with a comma,positive'),
        "unmatched_quote",
    ),
    ("header-only", "empty.csv", b"text,label\r\n", "no_rows"),
    ("empty-file", "empty.csv", b"", "no_rows"),
    ("single-class", "one.csv", _csv(corpus.text_rows({"positive": 150})).encode(), "too_few_classes"),
    (
        "class-below-minimum",
        "few.csv",
        _csv(corpus.text_rows({"a": 150, "b": 9})).encode(),
        "class_too_small",
    ),
    ("single-column", "one.csv", ("text\r\n" + "\r\n".join(t for t, _ in ROWS)).encode(), "csv_malformed"),
    ("binary", "data.csv", corpus.windows_executable() + bytes(100), "unsupported_file"),
    ("nul-bytes", "data.csv", b"text,label\r\nhello\x00world,a\r\n", "not_text"),
    (
        "ambiguous-columns",
        "three.csv",
        "\r\n".join(f"{t},{t[::-1]},{label}" for t, label in ROWS).encode(),
        "columns_ambiguous",
    ),
]


@pytest.mark.parametrize(
    ("filename", "content", "code"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
async def test_bad_csv_is_refused_with_its_reason(client, filename, content, code):
    response = await post_dataset(client, filename, content)

    assert response.status_code == 422, response.text
    assert report_of(response)["rejected_rule"] == code


async def test_ambiguous_columns_are_resolved_by_naming_them(client):
    content = "\r\n".join(f"{t},{t[::-1]},{label}" for t, label in ROWS).encode()

    response = await post_dataset(client, "three.csv", content, text_column="column_2", label_column="3")

    assert response.status_code == 201, response.text
    assert report_of(response)["details"]["columns_chosen_by"] == "named"
    assert report_of(response)["details"]["text_column"] == "column_2"


async def test_naming_a_missing_column_lists_the_columns(client):
    response = await post_dataset(client, "d.csv", _csv().encode(), text_column="body", label_column="label")

    assert response.status_code == 422
    assert report_of(response)["rejected_rule"] == "column_not_found"
    assert "text, label" in response.json()["error"]["message"]


ROW_PROBLEMS = [
    ("empty-text", ("", "positive"), "text_missing"),
    ("short-text", ("x", "positive"), "text_too_short"),
    ("missing-label", ("a text without its label", ""), "label_missing"),
    ("duplicate-row", ROWS[0], "exact_duplicate"),
    ("same-text-two-labels", (ROWS[0][0], "negative"), "cross_class_duplicate"),
]


@pytest.mark.parametrize(("row", "code"), [c[1:] for c in ROW_PROBLEMS], ids=[c[0] for c in ROW_PROBLEMS])
async def test_bad_row_is_dropped_with_its_reason(client, row, code):
    response = await post_dataset(client, "d.csv", _csv(_with_row(row, at=50)).encode())

    assert response.status_code == 201, response.text
    problem = next(p for p in report_of(response)["problems"] if p["code"] == code)
    assert problem["source"] in ("row 52", "row 2")  # the new row, or (cross-class) the first copy


async def test_empty_and_short_rows_are_reported(client):
    content = _csv().replace("\r\n", "\r\n\r\n", 3).encode()

    response = await post_dataset(client, "d.csv", content)

    assert response.status_code == 201
    assert report_of(response)["problem_counts"]["empty_row"] == 3


async def test_sentiment_scores_become_negative_neutral_positive(client):
    texts = [t for t, _ in corpus.text_rows({"x": 330})]
    scores = (
        [-0.8 + 0.01 * (i % 20) for i in range(110)]
        + [0.0] * 110
        + [0.9 - 0.01 * (i % 20) for i in range(110)]
    )
    content = "review,score\r\n" + "".join(f"{t},{s:.2f}\r\n" for t, s in zip(texts, scores, strict=True))

    response = await post_dataset(client, "reviews.csv", content.encode())

    assert response.status_code == 201, response.text
    assert response.json()["class_counts"] == {"negative": 110, "neutral": 110, "positive": 110}
    report = report_of(response)
    assert "label_mapped" in codes_of(response)
    assert (
        "-1..1 scale: below -0.2 is 'negative', above 0.2 is 'positive'" in report["details"]["label_mapping"]
    )


@pytest.mark.parametrize("cell", ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tthen =1", "\r=1"])
async def test_a_cell_a_spreadsheet_would_run_is_flagged_in_the_report(client, cell):
    response = await post_dataset(
        client, "formula.csv", _csv(_with_row((cell + " hello there", "positive"))).encode()
    )

    assert response.status_code == 201, response.text
    [problem] = [p for p in report_of(response)["problems"] if p["code"] == "formula_like_cells"]
    assert problem["severity"] == "info"
    assert problem["message"].startswith("1 rows (first: row 7)")


async def test_plain_texts_are_not_flagged_as_formulas(client):
    response = await post_dataset(client, "plain.csv", _csv().encode())

    assert "formula_like_cells" not in codes_of(response)
