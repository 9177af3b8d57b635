"""Class-level rules shared by image and text sets: how many classes, how many items per class,
what happens to classes above the cap, imbalance, and the split."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from common.contracts import Split

from dataset.validation.report import ClassCount, Code, ProblemList
from dataset.validation.split import sample_per_class, split_class


@dataclass(frozen=True)
class ClassRules:
    min_classes: int
    max_classes: int
    min_per_class: int
    max_per_class: int
    imbalance_warn_ratio: float
    noun: str  # "images" or "rows"
    how_to_add_class: str


def select_per_class(
    *, members: dict[str, list[int]], rules: ClassRules, seed: int, problems: ProblemList
) -> dict[str, list[int]]:
    """Check the class rules and return the items used per class (every class, sampled down if too large)."""
    names = sorted(members)
    noun = rules.noun
    if len(names) < rules.min_classes:
        found = ", ".join(repr(n) for n in names) or "none"
        problems.error(
            Code.too_few_classes,
            f"Found {len(names)} class{'es' if len(names) != 1 else ''} ({found}); at least "
            f"{rules.min_classes} are needed. {rules.how_to_add_class}",
        )
    if len(names) > rules.max_classes:
        problems.error(
            Code.too_many_classes,
            f"Found {len(names)} classes; at most {rules.max_classes} are allowed. Merge or remove classes.",
        )
    used: dict[str, list[int]] = {}
    for name in names:
        count = len(members[name])
        if count < rules.min_per_class:
            problems.error(
                Code.class_too_small,
                f"Class {name!r} has {count} usable {noun}; each class needs at least {rules.min_per_class}. "
                f"Add {noun}, fix the problems listed for this class, or remove it.",
                name,
            )
        used[name] = sample_per_class(
            members=members[name], label=name, max_items=rules.max_per_class, seed=seed
        )
        if count > rules.max_per_class:
            problems.warning(
                Code.class_capped,
                f"Class {name!r} has {count} usable {noun}; the limit is {rules.max_per_class} per class, "
                f"so training will use a random sample of {rules.max_per_class} chosen with seed {seed} "
                f"(the same sample on every upload with that seed). The other "
                f"{count - rules.max_per_class} are left out of the data set.",
                name,
            )
    _warn_on_case_variants(names, problems)
    _warn_on_imbalance(members=members, used=used, rules=rules, problems=problems)
    return used


def _warn_on_case_variants(labels: list[str], problems: ProblemList) -> None:
    by_folded: dict[str, list[str]] = defaultdict(list)
    for label in sorted(labels):
        by_folded[label.casefold()].append(label)
    for variants in by_folded.values():
        if len(variants) > 1:
            problems.warning(
                Code.label_case_variants,
                f"Classes {', '.join(repr(v) for v in variants)} differ only in case and stay separate; "
                "write them the same way if they mean one class.",
            )


def _warn_on_imbalance(
    *, members: dict[str, list[int]], used: dict[str, list[int]], rules: ClassRules, problems: ProblemList
) -> None:
    nonempty = {name: len(items) for name, items in members.items() if items}
    if len(nonempty) < 2:
        return
    largest = max(nonempty, key=nonempty.__getitem__)
    smallest = min(nonempty, key=nonempty.__getitem__)
    ratio = nonempty[largest] / nonempty[smallest]
    if ratio <= rules.imbalance_warn_ratio:
        return
    message = (
        f"Classes are imbalanced: {largest!r} has {nonempty[largest]} {rules.noun} and {smallest!r} has "
        f"{nonempty[smallest]} ({ratio:.1f}:1, warning above {rules.imbalance_warn_ratio:g}:1)."
    )
    used_counts = {name: len(used[name]) for name in nonempty}
    if used_counts != nonempty:
        used_ratio = max(used_counts.values()) / max(1, min(used_counts.values()))
        message += (
            f" After the per-class cap, training uses {used_counts[largest]} and {used_counts[smallest]} "
            f"({used_ratio:.1f}:1)."
        )
    message += f" A model may favour {largest!r}; add {rules.noun} to the smaller classes if you can."
    problems.warning(Code.class_imbalance, message)


def assign_splits(
    *,
    used: dict[str, list[int]],
    found: dict[str, int],
    group_of: dict[int, int],
    val_fraction: float,
    seed: int,
) -> tuple[dict[int, Split], list[ClassCount]]:
    """Split each class at the ratio, keeping near-duplicate groups together; also the per-class counts."""
    splits: dict[int, Split] = {}
    counts: list[ClassCount] = []
    for name, items in used.items():
        groups: dict[int, list[int]] = {}
        for item in items:
            groups.setdefault(group_of.get(item, item), []).append(item)
        assigned = split_class(groups=list(groups.values()), label=name, val_fraction=val_fraction, seed=seed)
        splits.update(assigned)
        val = sum(1 for s in assigned.values() if s == "val")
        counts.append(
            ClassCount(name=name, found=found[name], used=len(items), train=len(items) - val, val=val)
        )
    return splits, counts


def unsplit_counts(members: dict[str, list[int]], used: dict[str, list[int]]) -> list[ClassCount]:
    """Per-class counts of a rejected set: what was found and would be used, with no split."""
    return [ClassCount(name=name, found=len(members[name]), used=len(used[name])) for name in sorted(members)]
