"""Every artifact a run writes is served with its own content type, the same on every machine."""

from __future__ import annotations

import pytest
from trainer.runs.router import artifact_media_type


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("model.pt", "application/octet-stream"),  # the system table says application/vnd.snesdev-page-table
        ("model.onnx", "application/octet-stream"),
        ("model_card.json", "application/json"),
        ("metrics.json", "application/json"),
        ("curves.png", "image/png"),
        ("data_issues.png", "image/png"),
        ("README", "application/octet-stream"),
    ],
)
def test_artifact_media_type(name, expected):
    assert artifact_media_type(name) == expected
