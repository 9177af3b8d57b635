"""The worst images each service accepts, uploaded and predicted concurrently: every request answers
(no 5xx), and each service's resident memory, sampled from its real process, stays under the bound its
settings document and comes back down afterwards."""

from __future__ import annotations

import pytest
from dataset.settings import Settings as DatasetSettings
from inference.settings import Settings as InferenceSettings

from tests.edge.conftest import unhandled_errors
from tests.edge.hostile_images import MIB, RssSampler, run_hostile_load

pytestmark = pytest.mark.e2e

BOUND = {
    "dataset": DatasetSettings.model_fields["memory_bound_mib"].default * MIB,
    "inference": InferenceSettings.model_fields["memory_bound_mib"].default * MIB,
}


def test_worst_allowed_images_concurrently_stay_under_each_services_memory_bound(edge_stack):
    sampler = RssSampler({name: edge_stack.processes[name].pid for name in BOUND})
    before = {name: sampler.rss(name) for name in BOUND}

    load = run_hostile_load(edge_stack, uploads=2, predictions=4)

    # Accepted and decoded (predictions 200), or refused with a reason (uploads: 2 classes of 4 images
    # are below the minimum class size, after every image was decoded): never a server error.
    assert load.predict_status == [200] * 4
    assert all(400 <= s < 500 or s in (200, 201) for s in load.upload_status), load.upload_status
    for name, bound in BOUND.items():
        assert load.peak[name] < bound, f"{name} peaked at {load.peak[name] / MIB:.0f} MiB"
        # Decoding really happened at scale: at least one worst image's worth of memory was in use.
        assert load.peak[name] - before[name] > 200 * MIB, f"{name}: {load.peak[name] / MIB:.0f} MiB"
        settled = sampler.settle(name, below=before[name] + 150 * MIB)
        assert settled < before[name] + 150 * MIB, (
            f"{name} stayed at {settled / MIB:.0f} MiB after the load (was {before[name] / MIB:.0f})"
        )
    assert unhandled_errors(edge_stack) == []
