"""Bounded image decoding: what one decode may cost in memory, and how many run at once in a process.

``common.decoding.decode`` turns bytes into RGB; decoding briefly needs several copies of the image
(the source mode, alpha compositing, numpy conversions of 16-bit and float images). A 200 KB PNG can
declare 7900x7900 pixels and cost a gigabyte. So every service that decodes user images does it
through ``bounded_decode``:

- the cost of an image is computed from its header alone (after JPEG draft scaling, which decodes
  at 1/2..1/8 size): decoded pixels x the measured peak bytes per pixel of its mode (``PEAK_BYTES``);
- an image whose cost exceeds the process's decode budget is refused with a reason, before decoding;
- decodes run only while the sum of their costs fits the budget and at most ``max_concurrent`` at once;
  the caller's work on the decoded image (resize, normalise) happens while the slot is held;
- large buffers are allocated with mmap (``configure_allocator``), so their memory goes back to the
  operating system when the decode ends instead of staying in a malloc arena.

The worst case is therefore ``budget_bytes`` of decoding at any moment, whatever the requests are.
Services state their bound next to their settings (``decode_budget_mib``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from common.decoding import DecodedImage, DecodeError, decode, open_header

log = logging.getLogger(__name__)
MIB = 1024 * 1024

# Peak bytes per decoded pixel by source mode, measured with common.decoding.decode on 4000x4000
# images (ru_maxrss over the resident set before the call, the encoded bytes excluded), rounded up.
PEAK_BYTES = {
    "1": 8,
    "L": 8,
    "P": 8,
    "RGB": 8,
    "YCbCr": 8,
    "CMYK": 12,
    "RGBA": 24,
    "LA": 24,
    "PA": 24,
    "RGBa": 24,
    "La": 24,
    "I;16": 32,
    "I;16L": 32,
    "I;16B": 32,
    "I;16N": 32,
    "I": 40,
    "F": 48,
}
WORST_PEAK_BYTES = 48
# WebP decodes through an extra RGBA buffer inside libwebp.
_FORMAT_EXTRA = {"WEBP": 8}


@dataclass(frozen=True)
class DecodeCost:
    width: int  # after JPEG draft scaling: the pixels that will really be decoded
    height: int
    mode: str
    bytes: int


def decode_cost(data: bytes, *, max_pixels: int, min_shorter_side: int | None = None) -> DecodeCost:
    """The memory ``decode`` will need for these bytes, from the header only (raises ``DecodeError``)."""
    image = open_header(data, max_pixels=max_pixels)
    with image:
        if image.format == "JPEG" and min_shorter_side:
            image.draft("RGB", (min_shorter_side, min_shorter_side))
        per_pixel = PEAK_BYTES.get(image.mode, WORST_PEAK_BYTES) + _FORMAT_EXTRA.get(image.format or "", 0)
        return DecodeCost(image.width, image.height, image.mode, image.width * image.height * per_pixel)


class DecodeGate:
    """Admits decodes while their summed cost fits ``budget_bytes`` and fewer than ``max_concurrent``
    run. Thread-safe; callers block (in worker threads) until there is room, oldest first."""

    def __init__(self, *, budget_bytes: int, max_concurrent: int) -> None:
        if budget_bytes <= 0 or max_concurrent <= 0:
            raise ValueError("budget_bytes and max_concurrent must be positive")
        self.budget_bytes = budget_bytes
        self.max_concurrent = max_concurrent
        self._in_flight_bytes = 0
        self._in_flight = 0
        self._next_ticket = 0
        self._serving = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, cost: int) -> Iterator[None]:
        if cost > self.budget_bytes:
            raise ValueError(f"cost {cost} exceeds the whole budget {self.budget_bytes}")
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            # First come, first served: a large decode is not starved by a stream of small ones.
            self._cond.wait_for(
                lambda: (
                    ticket == self._serving
                    and self._in_flight < self.max_concurrent
                    and self._in_flight_bytes + cost <= self.budget_bytes
                )
            )
            self._serving += 1
            self._in_flight += 1
            self._in_flight_bytes += cost
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._in_flight_bytes -= cost
                self._cond.notify_all()

    @property
    def in_flight_bytes(self) -> int:
        with self._cond:
            return self._in_flight_bytes


_gate: DecodeGate | None = None


def install_decode_gate(*, budget_bytes: int, max_concurrent: int) -> DecodeGate:
    """The process's gate (a service calls this once at start; the memory it guards is the process's)."""
    global _gate
    _gate = DecodeGate(budget_bytes=budget_bytes, max_concurrent=max_concurrent)
    configure_allocator()
    return _gate


def current_gate() -> DecodeGate | None:
    return _gate


@contextmanager
def bounded_decode(
    data: bytes, *, max_pixels: int, min_shorter_side: int | None = None
) -> Iterator[DecodedImage]:
    """``decode`` under the process's gate; the slot is held until the ``with`` block ends, so work on
    the full-size image (resizing it down) is inside the budget too."""
    gate = _gate
    if gate is None:
        yield decode(data, max_pixels=max_pixels, min_shorter_side=min_shorter_side)
        return
    cost = decode_cost(data, max_pixels=max_pixels, min_shorter_side=min_shorter_side)
    if cost.bytes > gate.budget_bytes:
        raise DecodeError(
            "too_many_pixels",
            f"decoding this {cost.width}x{cost.height} {cost.mode} image needs {cost.bytes / MIB:.0f} MiB, "
            f"more than the {gate.budget_bytes / MIB:.0f} MiB this service decodes at once; downscale it "
            "or save it as an 8-bit RGB JPEG or PNG",
        )
    with gate.hold(cost.bytes):
        decoded = decode(data, max_pixels=max_pixels, min_shorter_side=min_shorter_side)
        try:
            yield decoded
        finally:
            decoded.image.close()


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_allocator_configured = False


def configure_allocator() -> None:
    """glibc only: serve allocations of 1 MiB and more with mmap, so a freed image is returned to the
    OS at once. (glibc's default threshold rises to 32 MiB after the first large free, after which image
    buffers come from arenas that rarely shrink: the "memory is never returned" symptom.)"""
    global _allocator_configured
    if _allocator_configured or not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MIB) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 8 * MIB) == 1
    except (OSError, AttributeError):  # not glibc (musl): its allocator already unmaps large frees
        ok = False
    _allocator_configured = True
    if not ok:
        log.info("mallopt is not available; large freed buffers may stay in the process")
