"""Imported first by every bench script (``import _bench_path``, then ``# isort: split``).

``python bench/<script>.py`` puts bench/ first on ``sys.path``, where ``bench/queue.py`` would shadow the
standard library's ``queue`` (which asyncio's executors, urllib3 and httpx import). This takes bench/ off
the path and puts the repository root there instead, so scripts can import ``tests.*`` helpers."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
