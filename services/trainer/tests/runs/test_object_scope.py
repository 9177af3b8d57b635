"""What a run's token may reach, table-driven (``ObjectScope``); over HTTP: tests/queue/test_worker_objects"""

from __future__ import annotations

import pytest
from trainer.runs.object_scope import ObjectScope

SCOPE = ObjectScope(run_id="runA", dataset_id="dsA")

CASES = [
    # key, may read, may write
    ("runs/runA/checkpoint.pt", True, True),
    ("runs/runA/model.onnx", True, True),
    ("datasets/dsA/manifest.json", True, False),
    ("datasets/dsA/pack.bin", True, False),
    ("features/dsA/efficientnet_lite0-224-x.npz", True, True),
    ("pretrained/efficientnet_lite0.pth", True, False),
    ("pretrained/onnx/efficientnet_lite0-224.onnx", True, True),
    ("runs/runB/model.onnx", False, False),
    ("runs/runAB/model.onnx", False, False),  # a run id that merely starts with ours
    ("datasets/dsB/manifest.json", False, False),
    ("datasets/dsAX/manifest.json", False, False),
    ("features/dsB/x.npz", False, False),
    ("models/m1/model.onnx", False, False),
    ("secrets/key", False, False),
    ("runs/runA/", False, False),  # a prefix, not an object
]


@pytest.mark.parametrize(("key", "read", "write"), CASES, ids=[c[0] for c in CASES])
def test_a_run_reaches_its_own_objects_only(key, read, write):
    assert SCOPE.allows(key, "read") is read
    assert SCOPE.allows(key, "write") is write


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [("runs/runA/", True), ("features/dsA/", True), ("pretrained/onnx/", True), ("runs/", False),
     ("datasets/", False), ("", False), ("runs/runB/", False)],
)  # fmt: skip
def test_a_run_lists_only_inside_what_it_may_read(prefix, allowed):
    assert SCOPE.allows_listing(prefix) is allowed


def test_only_the_shared_onnx_cache_is_write_once():
    assert ObjectScope.write_once("pretrained/onnx/b.onnx")
    assert not ObjectScope.write_once("features/dsA/f.npz")
    assert not ObjectScope.write_once("runs/runA/model.onnx")
