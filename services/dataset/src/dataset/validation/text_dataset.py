"""Validate a CSV/TSV of texts and labels and build the manifest items (texts inline).

Rows are numbered by the line where they start in the file (the header is row 1), as a spreadsheet
shows them.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from common.contracts import ManifestItem
from common.csvsafe import is_formula_like

from dataset.validation.classes import ClassRules, assign_splits, select_per_class, unsplit_counts
from dataset.validation.duplicates import Fingerprint, drop_exact_duplicates
from dataset.validation.limits import ValidationLimits
from dataset.validation.report import Code, ProblemList, UploadRefused, refuse
from dataset.validation.result import ValidationResult, build_report, describe_numbers, refused_result
from dataset.validation.text_columns import choose_columns, label_mapper
from dataset.validation.text_reader import DELIMITERS, Table, read_table

PREVIEW_PER_CLASS = 5
PREVIEW_CHARS = 300


def _limits_shown(limits: ValidationLimits) -> dict[str, object]:
    names = (
        "text_min_classes text_max_classes text_min_per_class text_max_per_class text_min_chars "
        "text_max_bytes csv_max_field_chars"
    ).split()
    return {n: getattr(limits, n) for n in names}


def _rows_to_examples(
    table: Table, *, text_index: int, label_index: int, limits: ValidationLimits, problems: ProblemList
) -> list[tuple[str, str, str]]:
    """(source, text, raw label) for every usable row; every other row becomes a problem."""
    for line in table.blank_lines:
        problems.info(Code.empty_row, "Skipped: the row is empty.", f"row {line}")
    width = len(table.columns)
    examples: list[tuple[str, str, str]] = []
    formula_like: list[int] = []
    for line, fields in table.rows:
        source = f"row {line}"
        if len(fields) != width:
            problems.warning(
                Code.wrong_field_count,
                f"Skipped: {len(fields)} fields where the file has {width} columns; "
                "quote texts that contain the delimiter.",
                source,
            )
            continue
        longest = max(len(v) for v in fields)
        if longest > limits.csv_max_field_chars:
            problems.warning(
                Code.field_too_large,
                f"Skipped: a field of {longest} characters; the limit is {limits.csv_max_field_chars}.",
                source,
            )
            continue
        text, label = fields[text_index].strip(), fields[label_index].strip()
        if not text:
            problems.warning(Code.text_missing, "Skipped: the text is empty.", source)
            continue
        if len(text) < limits.text_min_chars:
            problems.warning(
                Code.text_too_short,
                f"Skipped: the text has {len(text)} characters; at least {limits.text_min_chars} are needed.",
                source,
            )
            continue
        if not label:
            problems.warning(Code.label_missing, "Skipped: the label is empty.", source)
            continue
        examples.append((source, text, label))
        if is_formula_like(fields[text_index]) or is_formula_like(fields[label_index]):
            formula_like.append(line)
    if formula_like:
        problems.info(
            Code.formula_like_cells,
            f"{len(formula_like)} rows (first: row {formula_like[0]}) have a text or label starting with "
            "=, +, -, @, a tab or a carriage return. Trainyard reads them as plain text; a spreadsheet "
            "opening this file would run them as formulas, so open it with care.",
        )
    return examples


def validate_text_table(
    *,
    table_path: Path,
    filename: str,
    limits: ValidationLimits,
    val_fraction: float,
    seed: int,
    text_column: str | None = None,
    label_column: str | None = None,
) -> ValidationResult:
    problems = ProblemList(max_listed=limits.report_max_problems)
    details: dict[str, object] = {"val_fraction": val_fraction, "seed": seed}
    shown = _limits_shown(limits)
    try:
        size = table_path.stat().st_size
        if size > limits.text_max_bytes:
            raise refuse(
                Code.file_too_large,
                f"The text file has {size} bytes; the limit for CSV files is {limits.text_max_bytes}.",
            )
        table = read_table(
            table_path, filename=filename, problems=problems, max_field_chars=limits.csv_max_field_chars
        )
        details.update(
            encoding=table.encoding,
            delimiter=DELIMITERS[table.delimiter],
            quoting=table.quoting,
            has_header=table.has_header,
            columns=table.columns,
        )
        choice = choose_columns(
            table, text_column=text_column, label_column=label_column, max_classes=limits.text_max_classes
        )
    except UploadRefused as refusal:
        return refused_result(kind="text", problems=problems, refusal=refusal, details=details, limits=shown)
    details.update(
        text_column=table.columns[choice.text],
        label_column=table.columns[choice.label],
        columns_chosen_by=choice.how,
    )
    examples = _rows_to_examples(
        table, text_index=choice.text, label_index=choice.label, limits=limits, problems=problems
    )
    mapping, bins = label_mapper([raw for _s, _t, raw in examples], max_classes=limits.text_max_classes)
    if bins is not None:
        details["label_mapping"] = bins.describe()
        problems.info(
            Code.label_mapped,
            f"Column {table.columns[choice.label]!r} holds numbers, read as sentiment {bins.describe()}.",
        )
    labelled = [(source, text, mapping[raw]) for source, text, raw in examples]

    prints = [Fingerprint(label=label, source=source, key=text) for source, text, label in labelled]
    dropped = drop_exact_duplicates(prints, problems=problems, noun="text")
    members: dict[str, list[int]] = defaultdict(list)
    for i, (_source, _text, label) in enumerate(labelled):
        if i not in dropped:
            members[label].append(i)
    rules = ClassRules(
        min_classes=limits.text_min_classes,
        max_classes=limits.text_max_classes,
        min_per_class=limits.text_min_per_class,
        max_per_class=limits.text_max_per_class,
        imbalance_warn_ratio=limits.imbalance_warn_ratio,
        noun="rows",
        how_to_add_class=f"The label column {table.columns[choice.label]!r} needs at least two "
        "different values.",
    )
    used = select_per_class(members=dict(members), rules=rules, seed=seed, problems=problems)
    kept = [i for items in members.values() for i in items]
    distribution = {"text_chars": describe_numbers([len(labelled[i][1]) for i in kept])}
    if problems.first_error is not None:
        report = build_report(
            kind="text",
            problems=problems,
            classes=unsplit_counts(members, used),
            distribution=distribution,
            details=details,
            limits=shown,
        )
        return ValidationResult(report=report)

    found = {name: len(items) for name, items in members.items()}
    splits, counts = assign_splits(used=used, found=found, group_of={}, val_fraction=val_fraction, seed=seed)
    items: list[ManifestItem] = []
    preview: dict[str, list[dict[str, str]]] = {}
    for name in sorted(used):
        for i in used[name]:
            source, text, _label = labelled[i]
            items.append(ManifestItem(label=name, split=splits[i], source=source, text=text))
            if len(preview.setdefault(name, [])) < PREVIEW_PER_CLASS:
                preview[name].append({"source": source, "text": text[:PREVIEW_CHARS]})
    report = build_report(
        kind="text",
        problems=problems,
        classes=counts,
        distribution=distribution,
        details=details,
        limits=shown,
    )
    return ValidationResult(
        report=report,
        classes=sorted(used),
        items=items,
        preview={"kind": "text", "text_column": details["text_column"], "classes": preview},
    )
