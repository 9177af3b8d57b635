"""The health report: what was found, what was dropped and why, and whether the set can be trained.

Every problem carries a reason code (stable, for programs and tests) and a message (for people).
Severity decides the verdict: any ``error`` rejects the set, any ``warning`` accepts it with warnings,
``info`` only notes something (junk files skipped, a label mapping applied).
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Any, Literal

from common.contracts import DatasetKind, Verdict
from pydantic import BaseModel, Field

Severity = Literal["info", "warning", "error"]


class Code(StrEnum):
    # The file as a whole
    unsupported_file = "unsupported_file"
    file_too_large = "file_too_large"
    not_a_zip = "not_a_zip"
    empty_archive = "empty_archive"
    zip_corrupt = "zip_corrupt"
    zip_too_many_entries = "zip_too_many_entries"
    zip_entry_too_large = "zip_entry_too_large"
    zip_total_too_large = "zip_total_too_large"
    zip_ratio_exceeded = "zip_ratio_exceeded"
    zip_path_traversal = "zip_path_traversal"
    zip_absolute_path = "zip_absolute_path"
    zip_symlink = "zip_symlink"
    zip_overlapping_entries = "zip_overlapping_entries"
    # One zip entry
    junk_skipped = "junk_skipped"
    nested_archive = "nested_archive"
    encrypted_entry = "encrypted_entry"
    duplicate_entry_name = "duplicate_entry_name"
    file_outside_class_folder = "file_outside_class_folder"
    unsupported = "unsupported"
    corrupt = "corrupt"
    too_many_pixels = "too_many_pixels"
    too_small = "too_small"
    upscaled = "upscaled"
    exact_duplicate = "exact_duplicate"
    near_duplicate = "near_duplicate"
    cross_class_duplicate = "cross_class_duplicate"
    cross_class_near_duplicate = "cross_class_near_duplicate"
    # Text file
    not_text = "not_text"
    encoding_fallback = "encoding_fallback"
    quotes_ignored = "quotes_ignored"
    unmatched_quote = "unmatched_quote"
    csv_malformed = "csv_malformed"
    no_rows = "no_rows"
    column_not_found = "column_not_found"
    columns_ambiguous = "columns_ambiguous"
    # One row
    empty_row = "empty_row"
    wrong_field_count = "wrong_field_count"
    field_too_large = "field_too_large"
    text_missing = "text_missing"
    text_too_short = "text_too_short"
    label_missing = "label_missing"
    label_mapped = "label_mapped"
    label_case_variants = "label_case_variants"
    formula_like_cells = "formula_like_cells"
    # Classes
    too_few_classes = "too_few_classes"
    too_many_classes = "too_many_classes"
    class_too_small = "class_too_small"
    class_capped = "class_capped"
    class_imbalance = "class_imbalance"


class Problem(BaseModel):
    code: Code
    severity: Severity
    message: str
    source: str | None = Field(None, description="zip entry, 'row N' (line in the file), or class name")


class ClassCount(BaseModel):
    name: str
    found: int = Field(description="valid items after dropping problems")
    used: int = Field(description="items kept for training (found, or the per-class sample)")
    train: int = 0
    val: int = 0


class HealthReport(BaseModel):
    kind: DatasetKind
    verdict: Verdict
    rejected_rule: Code | None = Field(None, description="the first rule that failed, when rejected")
    summary: str
    classes: list[ClassCount] = Field(default_factory=list)
    num_items: int = 0
    num_train: int = 0
    num_val: int = 0
    problems: list[Problem] = Field(default_factory=list)
    problem_counts: dict[str, int] = Field(default_factory=dict)
    problems_not_listed: int = Field(0, description="problems counted but left out of the list")
    distribution: dict[str, Any] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    limits: dict[str, Any] = Field(default_factory=dict)


class UploadRefused(Exception):
    """A problem that stops validation at once (a hostile archive, an unreadable file)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def refuse(code: Code, message: str, source: str | None = None) -> UploadRefused:
    return UploadRefused(Problem(code=code, severity="error", message=message, source=source))


class ProblemList:
    """Collects problems; counts all of them but lists only the first ``max_listed``."""

    def __init__(self, *, max_listed: int) -> None:
        self.max_listed = max_listed
        self.listed: list[Problem] = []
        self.counts: Counter[str] = Counter()
        self.by_severity: Counter[str] = Counter()
        self.warning_counts: Counter[str] = Counter()
        self.first_error: Problem | None = None

    def add(self, code: Code, severity: Severity, message: str, source: str | None = None) -> None:
        self.append(Problem(code=code, severity=severity, message=message, source=source))

    def append(self, problem: Problem) -> None:
        self.counts[problem.code.value] += 1
        self.by_severity[problem.severity] += 1
        if problem.severity == "warning":
            self.warning_counts[problem.code.value] += 1
        if problem.severity == "error" and self.first_error is None:
            self.first_error = problem
        if len(self.listed) < self.max_listed:
            self.listed.append(problem)

    def error(self, code: Code, message: str, source: str | None = None) -> None:
        self.add(code, "error", message, source)

    def warning(self, code: Code, message: str, source: str | None = None) -> None:
        self.add(code, "warning", message, source)

    def info(self, code: Code, message: str, source: str | None = None) -> None:
        self.add(code, "info", message, source)

    @property
    def verdict(self) -> Verdict:
        if self.by_severity["error"]:
            return "rejected"
        if self.by_severity["warning"]:
            return "accepted_with_warnings"
        return "accepted"

    def report_fields(self) -> dict[str, Any]:
        # Errors first so a reader sees why a set was rejected before the list of dropped files.
        order = {"error": 0, "warning": 1, "info": 2}
        return {
            "verdict": self.verdict,
            "rejected_rule": self.first_error.code if self.first_error else None,
            "problems": sorted(self.listed, key=lambda p: order[p.severity]),
            "problem_counts": dict(self.counts),
            "problems_not_listed": sum(self.counts.values()) - len(self.listed),
        }


# Class rules that fail as a consequence of items dropped for another reason...
_CONSEQUENCES = {Code.class_too_small, Code.too_few_classes}
# ...and the reasons an item is dropped.
_DROPPED = {
    Code.unsupported,
    Code.corrupt,
    Code.too_many_pixels,
    Code.too_small,
    Code.exact_duplicate,
    Code.cross_class_duplicate,
    Code.encrypted_entry,
    Code.nested_archive,
    Code.file_outside_class_folder,
    Code.wrong_field_count,
    Code.field_too_large,
    Code.text_missing,
    Code.text_too_short,
    Code.label_missing,
}


def summarize(*, kind: DatasetKind, problems: ProblemList, num_items: int, num_classes: int) -> str:
    """One sentence a person reads first: for a rejection, its dominant cause."""
    what = "images" if kind == "image" else "rows"
    if problems.first_error is not None:
        return f"Rejected: {_dominant_cause(problems, what) or problems.first_error.message}"
    base = f"Accepted: {num_items} {what} in {num_classes} classes"
    if problems.by_severity["warning"]:
        listed = ", ".join(f"{count} {code}" for code, count in problems.warning_counts.most_common())
        return f"{base}, with warnings ({listed}); see problems."
    return base + "."


def _dominant_cause(problems: ProblemList, what: str) -> str | None:
    """'Class x has 0 usable images' hides why: name the reason most items were dropped for, first."""
    first = problems.first_error
    dropped = Counter({c: n for c, n in problems.counts.items() if c in _DROPPED})
    if first is None or first.code not in _CONSEQUENCES or not dropped:
        return None
    code, count = dropped.most_common(1)[0]
    example = next((p for p in problems.listed if p.code.value == code), None)
    detail = f" ({example.source}: {example.message})" if example and example.source else ""
    return f"{count} {what} were skipped as {code.replace('_', ' ')}{detail}; as a result: {first.message}"
