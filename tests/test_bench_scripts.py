"""Every bench script runs as ``python bench/<script>.py`` although bench/queue.py is named like the
standard library's ``queue``: each imports ``_bench_path`` first, which takes bench/ off sys.path."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def first_import(path: Path) -> str | None:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.Import):
            return node.names[0].name
        if isinstance(node, ast.ImportFrom):
            return node.module
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):  # the docstring
            return None
    return None


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_each_bench_script_takes_bench_off_the_path_before_any_other_import(script):
    assert first_import(script) == "_bench_path"


def test_scripts_run_from_bench_import_the_standard_librarys_queue_and_still_find_the_repository():
    """One interpreter started as a bench script would be (``bench/`` is sys.path[0]); it does what each
    script does first, then imports what broke before (urllib3 through httpx, concurrent.futures'
    thread pool) and a ``tests.*`` helper."""
    probe = (
        "import runpy, sys; sys.path.insert(0, sys.argv[1]); import _bench_path; "
        "import queue, httpx, concurrent.futures.thread, tests.edge; "
        "assert hasattr(queue, 'SimpleQueue'), queue.__file__; print(queue.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(BENCH)], capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert done.returncode == 0, done.stderr
    assert not done.stdout.strip().startswith(str(BENCH))


@pytest.mark.parametrize("script", ["serving.py", "slice.py"])
def test_a_bench_script_starts_from_its_own_folder(script):
    """``--help`` imports everything the script needs (httpx, urllib3 and the embedded launcher: what
    failed to import while bench/queue.py shadowed ``queue``) with bench/ as sys.path[0], as a user runs
    it. (Every script's --help was run by hand; the ones that import torch take ~10 s each here.)"""
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, timeout=180, cwd="/"
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
