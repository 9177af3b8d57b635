"""What validation hands to the service: the report, and for an accepted set the manifest items,
the image pack on local disk and the preview."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.contracts import DatasetKind, ManifestItem

from dataset.validation.report import ClassCount, HealthReport, ProblemList, UploadRefused, summarize


@dataclass
class ValidationResult:
    report: HealthReport
    classes: list[str] = field(default_factory=list)
    items: list[ManifestItem] = field(default_factory=list)
    pack_path: Path | None = None
    preview: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.report.verdict != "rejected"


def build_report(
    *,
    kind: DatasetKind,
    problems: ProblemList,
    classes: list[ClassCount] | None = None,
    distribution: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
) -> HealthReport:
    classes = classes or []
    num_items = sum(c.used for c in classes)
    return HealthReport(
        kind=kind,
        summary=summarize(kind=kind, problems=problems, num_items=num_items, num_classes=len(classes)),
        classes=classes,
        num_items=num_items,
        num_train=sum(c.train for c in classes),
        num_val=sum(c.val for c in classes),
        distribution=distribution or {},
        details=details or {},
        limits=limits or {},
        **problems.report_fields(),
    )


def refused_result(
    *,
    kind: DatasetKind,
    problems: ProblemList,
    refusal: UploadRefused,
    details: dict[str, Any],
    limits: dict[str, Any],
) -> ValidationResult:
    problems.append(refusal.problem)
    return ValidationResult(report=build_report(kind=kind, problems=problems, details=details, limits=limits))


def describe_numbers(values: list[int]) -> dict[str, float | int]:
    """min / p10 / median / p90 / max / mean of a list of sizes or lengths."""
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]

    return {
        "min": ordered[0],
        "p10": at(0.1),
        "median": at(0.5),
        "p90": at(0.9),
        "max": ordered[-1],
        "mean": round(statistics.fmean(ordered), 1),
    }
