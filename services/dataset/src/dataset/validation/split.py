"""Per-class sampling and the stratified, seeded train/validation split.

Both are deterministic for a given seed: each class draws from its own ``random.Random(f"{seed}:{label}")``
(string seeds hash with SHA-512, so the result does not depend on PYTHONHASHSEED or class order).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from common.contracts import Split


def class_rng(*, seed: int, label: str, purpose: str) -> random.Random:
    return random.Random(f"{seed}:{purpose}:{label}")


def sample_per_class(*, members: Sequence[int], label: str, max_items: int, seed: int) -> list[int]:
    """Keep at most ``max_items`` of one class, chosen at random with the seed; order is preserved."""
    if len(members) <= max_items:
        return list(members)
    chosen = set(class_rng(seed=seed, label=label, purpose="sample").sample(list(members), max_items))
    return [m for m in members if m in chosen]


def val_count(*, n: int, val_fraction: float) -> int:
    """Items of a class that go to validation: the rounded fraction, but never all and never none."""
    if n < 2:
        return 0
    return min(n - 1, max(1, round(n * val_fraction)))


def split_class(
    *, groups: Sequence[Sequence[int]], label: str, val_fraction: float, seed: int
) -> dict[int, Split]:
    """Assign one class's items to train or val.

    ``groups`` partitions the items; a group (near-duplicates of each other) always lands in one split,
    so validation accuracy is not inflated by copies seen in training.
    """
    n = sum(len(g) for g in groups)
    target = val_count(n=n, val_fraction=val_fraction)
    order = list(range(len(groups)))
    class_rng(seed=seed, label=label, purpose="split").shuffle(order)
    assigned: dict[int, Split] = {}
    in_val = 0
    for index in order:
        group = groups[index]
        split: Split = "val" if in_val + len(group) <= target else "train"
        if split == "val":
            in_val += len(group)
        for item in group:
            assigned[item] = split
    if in_val == 0 and target > 0 and len(groups) > 1:
        # Every group was larger than the target: move the smallest one so validation is not empty.
        smallest = min(groups, key=len)
        for item in smallest:
            assigned[item] = "val"
    return assigned
