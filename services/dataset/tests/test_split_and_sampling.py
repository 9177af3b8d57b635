"""The stratified seeded split and the per-class sample."""

from __future__ import annotations

import pytest
from dataset.validation.split import sample_per_class, split_class, val_count


@pytest.mark.parametrize(
    ("n", "fraction", "expected"),
    [(10, 0.2, 2), (100, 0.2, 20), (100, 0.3, 30), (15, 0.2, 3), (11, 0.25, 3), (2, 0.2, 1), (1, 0.3, 0)],
)
def test_validation_count_is_the_rounded_fraction_but_never_all_or_none(n, fraction, expected):
    assert val_count(n=n, val_fraction=fraction) == expected


def singletons(n: int) -> list[list[int]]:
    return [[i] for i in range(n)]


def test_split_hits_the_ratio_per_class():
    assigned = split_class(groups=singletons(50), label="cats", val_fraction=0.3, seed=1)

    assert sum(1 for s in assigned.values() if s == "val") == 15
    assert set(assigned) == set(range(50))


def test_split_is_the_same_for_the_same_seed_and_differs_for_another():
    first = split_class(groups=singletons(50), label="cats", val_fraction=0.2, seed=1)
    again = split_class(groups=singletons(50), label="cats", val_fraction=0.2, seed=1)
    other = split_class(groups=singletons(50), label="cats", val_fraction=0.2, seed=2)

    assert first == again
    assert first != other


def test_near_duplicate_group_lands_in_one_split():
    groups = [[0, 1, 2], *[[i] for i in range(3, 30)]]

    for seed in range(20):
        assigned = split_class(groups=groups, label="cats", val_fraction=0.2, seed=seed)
        assert len({assigned[0], assigned[1], assigned[2]}) == 1


def test_validation_is_not_empty_when_every_group_is_large():
    assigned = split_class(
        groups=[list(range(0, 6)), list(range(6, 12))], label="c", val_fraction=0.2, seed=0
    )

    assert 0 < sum(1 for s in assigned.values() if s == "val") < 12


def test_sample_keeps_everything_under_the_cap():
    assert sample_per_class(members=[5, 3, 9], label="a", max_items=3, seed=0) == [5, 3, 9]


def test_sample_is_seeded_sized_and_in_original_order():
    members = list(range(4827))

    sample = sample_per_class(members=members, label="ham", max_items=1000, seed=42)

    assert len(sample) == 1000
    assert sample == sorted(sample)
    assert sample == sample_per_class(members=members, label="ham", max_items=1000, seed=42)
    assert sample != sample_per_class(members=members, label="ham", max_items=1000, seed=43)
