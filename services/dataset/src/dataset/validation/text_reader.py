"""Read a CSV or TSV of unknown origin: encoding, delimiter, quoting and header, all detected.

Encodings: UTF-8, UTF-8 with BOM, UTF-16/32 with BOM; otherwise Windows-1252 (or Latin-1 for the five
bytes cp1252 leaves undefined), with a warning. Quoted fields may span lines. When standard quoting
fails (a stray or unmatched quote) and reading the quotes as plain characters gives every row the same
number of fields, that reading is used with a warning: many TSV exports never quote at all.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dataset.validation.report import Code, ProblemList, refuse

SAMPLE_CHARS = 64 * 1024
DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
TEXT_NAMES = {
    "text", "sms", "message", "msg", "review", "review_text", "sentence", "content", "body", "comment",
    "tweet", "document", "utterance", "title", "question",
}  # fmt: skip
LABEL_NAMES = {"label", "labels", "class", "category", "target", "sentiment", "y", "tag", "intent", "topic"}
SCORE_NAMES = {"score", "sentiment_score", "rating", "polarity", "stars"}


@dataclass
class Table:
    encoding: str
    delimiter: str
    has_header: bool
    quoting: str  # "standard" or "none"
    columns: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (line where the record starts, fields)
    blank_lines: list[int] = field(default_factory=list)


def detect_encoding(path: Path, problems: ProblemList) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    with open(path, "rb") as f:
        sample = f.read(SAMPLE_CHARS)
    if b"\x00" in sample:
        raise refuse(
            Code.not_text,
            "The file contains NUL bytes: it is binary, or UTF-16 without a byte-order mark. "
            "Save it as UTF-8 (or UTF-16 with BOM) CSV.",
        )
    bad_at = _first_invalid_utf8(path)
    if bad_at is None:
        return "utf-8"
    encoding = "cp1252" if _decodes(path, "cp1252") else "latin-1"
    problems.warning(
        Code.encoding_fallback,
        f"The file is not valid UTF-8 (first bad byte at offset {bad_at}); it was read as "
        f"{'Windows-1252' if encoding == 'cp1252' else 'Latin-1'}. Check accented characters in the preview, "
        "or save the file as UTF-8.",
    )
    return encoding


def _first_invalid_utf8(path: Path) -> int | None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                return offset + e.start
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset
    return None


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    with open(path, "rb") as f:
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
        except UnicodeDecodeError:
            return False
    return True


def _read_sample(path: Path, encoding: str) -> tuple[str, bool]:
    with open(path, encoding=encoding, newline="") as f:
        sample = f.read(SAMPLE_CHARS)
        return sample, bool(f.read(1))


def sniff_delimiter(sample: str, *, truncated: bool, filename: str) -> str:
    """The candidate that splits the most sample rows into the same number (at least 2) of fields."""
    preferred = "\t" if filename.lower().endswith(".tsv") else ","
    best: tuple[float, bool, int, str] | None = None
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r]
        except csv.Error:
            continue
        if truncated and len(rows) > 1:
            rows = rows[:-1]  # the sample may end inside a record
        rows = rows[:500]
        if not rows:
            continue
        width, count = Counter(len(r) for r in rows).most_common(1)[0]
        if width < 2:
            continue
        score = (count / len(rows), delimiter == preferred, width, delimiter)
        if best is None or score[:3] > best[:3]:
            best = score
    if best is None:
        raise refuse(
            Code.csv_malformed,
            "Found a single column. Put the text and the label in separate columns, separated by a comma, "
            "semicolon, tab or '|'.",
        )
    return best[3]


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip().lower() not in ("nan", "inf", "-inf", "infinity", "")


def detect_header(rows: list[list[str]]) -> bool:
    """A first row is a header if it names a known column, or if a column is numeric below a word,
    or if a repetitive (label-like) column's first value never appears again."""
    if len(rows) < 2:
        return bool(rows) and any(v.strip().lower() in TEXT_NAMES | LABEL_NAMES for v in rows[0])
    first, body = rows[0], rows[1:200]
    names = [v.strip().lower() for v in first]
    if any(n in TEXT_NAMES | LABEL_NAMES | SCORE_NAMES for n in names):
        return True
    for index, value in enumerate(first):
        column = [r[index].strip() for r in body if index < len(r) and r[index].strip()]
        if not column or not value.strip():
            continue
        numeric = sum(_is_number(v) for v in column) / len(column)
        if numeric > 0.9 and not _is_number(value):
            return True
        distinct = set(column)
        if len(distinct) <= max(2, len(column) // 4) and value.strip() not in distinct:
            return True
    return False


class _QuotingFailed(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _parse(path: Path, *, encoding: str, delimiter: str, quoting: int) -> tuple[list, list[int]]:
    rows: list[tuple[int, list[str]]] = []
    blank: list[int] = []
    with open(path, encoding=encoding, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quoting=quoting, strict=quoting != csv.QUOTE_NONE)
        start = 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                raise _QuotingFailed(start, str(e)) from e
            if fields and any(v.strip() for v in fields):
                rows.append((start, fields))
            else:
                blank.append(start)
            start = reader.line_num + 1
    return rows, blank


def read_table(path: Path, *, filename: str, problems: ProblemList, max_field_chars: int) -> Table:
    # The csv module's own cap is process-wide; we lift it and drop oversized rows ourselves, by name.
    csv.field_size_limit(max(csv.field_size_limit(), max_field_chars + 1, path.stat().st_size + 1))
    encoding = detect_encoding(path, problems)
    sample, truncated = _read_sample(path, encoding)
    if not sample.strip():
        raise refuse(Code.no_rows, "The file is empty. Upload a CSV with a text column and a label column.")
    delimiter = sniff_delimiter(sample, truncated=truncated, filename=filename)
    quoting = "standard"
    try:
        rows, blank = _parse(path, encoding=encoding, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL)
    except _QuotingFailed as failure:
        rows, blank = _parse(path, encoding=encoding, delimiter=delimiter, quoting=csv.QUOTE_NONE)
        widths = Counter(len(fields) for _line, fields in rows)
        unmatched = "unexpected end of data" in failure.message
        if len(widths) != 1:
            code = Code.unmatched_quote if unmatched else Code.csv_malformed
            what = (
                "opens a quote that is never closed" if unmatched else f"cannot be parsed ({failure.message})"
            )
            raise refuse(
                code,
                f'The record starting at row {failure.line} {what}. Close or escape the quote ("" inside a '
                "quoted field) and upload again.",
                f"row {failure.line}",
            ) from failure
        quoting = "none"
        problems.warning(
            Code.quotes_ignored,
            f"Row {failure.line} has a quote that does not follow CSV rules ({failure.message}); "
            "the file was "
            "read with quotes as ordinary characters, which gives every row the same number of fields.",
            f"row {failure.line}",
        )
    if not rows:
        raise refuse(
            Code.no_rows, "The file has no rows. Upload a CSV with a text column and a label column."
        )
    has_header = detect_header([fields for _line, fields in rows[:200]])
    width = Counter(len(f) for _line, f in rows).most_common(1)[0][0]
    if has_header:
        columns = [c.strip() or f"column_{i + 1}" for i, c in enumerate(rows[0][1])]
        rows = rows[1:]
    else:
        columns = [f"column_{i + 1}" for i in range(width)]
    if not rows:
        raise refuse(
            Code.no_rows,
            f"The file has a header ({', '.join(columns)}) but no data rows. Add one row per example.",
        )
    return Table(
        encoding=encoding,
        delimiter=delimiter,
        has_header=has_header,
        quoting=quoting,
        columns=columns,
        rows=rows,
        blank_lines=blank,
    )
