"""The decode budget: costs from headers, the gate's limits, and a clear refusal for an image over it."""

from __future__ import annotations

import io
import threading
import time

import pytest
from common import decode_budget
from common.decode_budget import DecodeGate, bounded_decode, decode_cost, install_decode_gate
from common.decoding import DecodeError
from PIL import Image


def encoded(mode: str, size: tuple[int, int], fmt: str = "PNG", colour=0) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def gate():
    previous = decode_budget.current_gate()
    yield install_decode_gate(budget_bytes=8 * 1000 * 1000, max_concurrent=2)
    decode_budget._gate = previous


@pytest.mark.parametrize(
    ("mode", "fmt", "per_pixel"),
    [("RGB", "PNG", 8), ("RGBA", "PNG", 24), ("I;16", "PNG", 32), ("F", "TIFF", 48), ("L", "JPEG", 8)],
)
def test_cost_is_pixels_times_the_modes_peak_bytes(mode, fmt, per_pixel):
    cost = decode_cost(encoded(mode, (100, 50), fmt), max_pixels=10**6)
    assert cost.bytes == 100 * 50 * per_pixel


def test_a_jpeg_costs_what_its_draft_decode_costs():
    data = encoded("RGB", (1600, 1200), "JPEG")
    full = decode_cost(data, max_pixels=10**8)
    drafted = decode_cost(data, max_pixels=10**8, min_shorter_side=150)
    assert (drafted.width, drafted.height) == (200, 150)
    assert drafted.bytes == full.bytes // 64


def test_an_image_over_the_budget_is_refused_before_decoding(gate):
    data = encoded("RGBA", (1000, 1000))  # 24 MB to decode, budget 8 MB
    with pytest.raises(DecodeError) as info, bounded_decode(data, max_pixels=10**8):
        pass
    assert info.value.reason == "too_many_pixels"
    assert "1000x1000 RGBA image needs 23 MiB" in info.value.message
    assert "downscale it" in info.value.message


def test_an_image_within_the_budget_decodes_and_releases_its_slot(gate):
    with bounded_decode(encoded("RGB", (500, 500), colour=(1, 2, 3)), max_pixels=10**8) as decoded:
        assert decoded.image.getpixel((0, 0)) == (1, 2, 3)
        assert gate.in_flight_bytes == 500 * 500 * 8
    assert gate.in_flight_bytes == 0


def _run_concurrently(gate: DecodeGate, costs: list[int]) -> int:
    """Holds each cost for 50 ms from its own thread; returns the most decodes seen at once."""
    lock, active, most = threading.Lock(), [0], [0]

    def work(cost: int) -> None:
        with gate.hold(cost):
            with lock:
                active[0] += 1
                most[0] = max(most[0], active[0])
                assert gate.in_flight_bytes <= gate.budget_bytes
            time.sleep(0.05)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=work, args=(c,)) for c in costs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return most[0]


def test_the_gate_never_runs_more_than_max_concurrent():
    assert _run_concurrently(DecodeGate(budget_bytes=100, max_concurrent=2), [1] * 8) == 2


def test_the_gate_never_runs_more_than_the_budget_at_once():
    assert _run_concurrently(DecodeGate(budget_bytes=100, max_concurrent=8), [60] * 4) == 1
