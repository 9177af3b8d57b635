"""Exact and near duplicates, within a class and across classes.

Policy (stated in each problem's message):
- exact copies in one class: the first is kept, the others dropped;
- an exact copy in two or more classes: every copy is dropped, because its label is contradictory;
- near-duplicates (perceptual hash within the threshold) are kept with a warning, and those in one
  class are put in the same split so validation never sees a near-copy of a training item.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dataset.validation.report import Code, ProblemList


@dataclass(frozen=True)
class Fingerprint:
    label: str
    source: str
    key: str = ""  # exact identity: SHA-256 of the file, or the trimmed text
    dhash: int | None = None


def drop_exact_duplicates(items: Sequence[Fingerprint], *, problems: ProblemList, noun: str) -> set[int]:
    """Indices to drop."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        by_key[item.key].append(index)
    dropped: set[int] = set()
    for indices in by_key.values():
        if len(indices) < 2:
            continue
        labels = sorted({items[i].label for i in indices})
        if len(labels) > 1:
            where = ", ".join(f"{items[i].source} ({items[i].label})" for i in indices[:6])
            for i in indices:
                problems.warning(
                    Code.cross_class_duplicate,
                    f"Dropped: the same {noun} appears in classes {', '.join(labels)} ({where}); "
                    "its label is contradictory, so every copy is left out.",
                    items[i].source,
                )
            dropped.update(indices)
            continue
        first = items[indices[0]].source
        for i in indices[1:]:
            problems.warning(Code.exact_duplicate, f"Dropped: an exact copy of {first}.", items[i].source)
            dropped.add(i)
    return dropped


def _hamming_neighbours(hashes: np.ndarray, index: int, max_distance: int) -> np.ndarray:
    distances = np.bitwise_count(hashes[index + 1 :] ^ hashes[index])
    return np.nonzero(distances <= max_distance)[0] + index + 1


def group_near_duplicates(
    items: Sequence[Fingerprint], *, kept: Sequence[int], max_distance: int, problems: ProblemList
) -> dict[int, int]:
    """Union near-duplicates of the same class; returns item index -> group representative."""
    parent = {i: i for i in kept}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = [i for i in kept if items[i].dhash is not None]
    if not order:
        return {i: i for i in kept}
    hashes = np.array([items[i].dhash for i in order], dtype=np.uint64)
    reported: set[int] = set()
    for position, index in enumerate(order):
        for other_position in _hamming_neighbours(hashes, position, max_distance):
            other = order[int(other_position)]
            a, b = items[index], items[other]
            if a.label == b.label:
                parent[find(other)] = find(index)
            if other in reported:
                continue
            reported.add(other)
            if a.label == b.label:
                problems.warning(
                    Code.near_duplicate,
                    f"Kept, but nearly identical to {a.source}; both are placed in the same split.",
                    b.source,
                )
            else:
                problems.warning(
                    Code.cross_class_near_duplicate,
                    f"Kept, but nearly identical to {a.source} in class {a.label!r}; check both labels.",
                    b.source,
                )
    return {i: find(i) for i in kept}
