"""A warm worker: ``python -m trainer.training --await-spec`` starts before its attempt exists, does the
imports of a quick image run, then blocks on stdin. The local executor hands it one attempt as one JSON
line ``{"spec": PATH, "log": PATH, "token": TOKEN}`` and closes the pipe; the process then writes to
the attempt's log (so its output, and its open file, name the run) and runs as ``--spec PATH``.
End of input without a line (the trainer stopped, or retired the spare) ends it quietly.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import TextIO

from trainer.training.settings import RUN_TOKEN_ENV

AWAIT_SPEC = "--await-spec"
# What a quick image run on CPU imports (the default run): done before the spec arrives.
WARM_MODULES = ("onnxruntime", "trainer.training.run", "trainer.training.image.quick_cpu")


def warm_up(modules: tuple[str, ...] = WARM_MODULES) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - only a head start: the run imports it again and reports why
            pass


def await_handoff(stdin: TextIO = sys.stdin) -> list[str] | None:
    """The entrypoint's arguments for the attempt handed over, or None when there is none."""
    line = stdin.readline()
    if not line.strip():
        return None
    handoff = json.loads(line)
    log = os.open(handoff["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ[RUN_TOKEN_ENV] = handoff["token"]
    return ["--spec", handoff["spec"]]
