"""The bounded zip read: caps are checked against the bytes actually decompressed."""

from __future__ import annotations

import zipfile

import pytest
from dataset.testing import corpus
from dataset.validation.limits import ValidationLimits
from dataset.validation.report import UploadRefused
from dataset.validation.zip_reader import ReadBudget, ZipMember, read_member


@pytest.fixture
def bomb(tmp_path):
    path = tmp_path / "bomb.zip"
    path.write_bytes(corpus.ratio_bomb_zip(decompressed_mib=200))
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_ratio_bomb_read_stops_soon_after_the_ratio_is_passed(bomb):
    info = bomb.getinfo("cats/huge.bmp")
    budget = ReadBudget(limits=ValidationLimits())

    with pytest.raises(UploadRefused) as refused:
        read_member(bomb, ZipMember(info=info, parts=("cats", "huge.bmp")), budget=budget)

    assert refused.value.problem.code == "zip_ratio_exceeded"
    # 100x the compressed size (about 200 KB), plus one 1 MiB chunk: nowhere near the 200 MiB inside.
    assert budget.total <= info.compress_size * 100 + (1 << 20)


def test_total_cap_counts_bytes_across_entries(tmp_path):
    path = tmp_path / "many.zip"
    path.write_bytes(corpus.size_bomb_zip(entries=3, entry_bytes=400_000))
    limits = ValidationLimits(zip_max_total_bytes=1_000_000)
    budget = ReadBudget(limits=limits)

    with zipfile.ZipFile(path) as archive, pytest.raises(UploadRefused) as refused:
        for info in archive.infolist():
            read_member(archive, ZipMember(info=info, parts=tuple(info.filename.split("/"))), budget=budget)

    assert refused.value.problem.code == "zip_total_too_large"
    assert budget.total <= 1_000_000 + (1 << 20)
