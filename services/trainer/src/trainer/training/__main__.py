"""``python -m trainer.training --spec spec.json`` (or ``--spec-json '<json>'``): one training run.
(``--await-spec``: a warm worker that is handed its attempt on stdin, ``training/warm_start.py``.)

The same entrypoint runs in a local worker process and in a Kubernetes Job. Exit 0 after reporting
``{"type": "succeeded", "result": ...}``; exit 1 after reporting ``{"type": "failed", "error": ...}``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from common.contracts import TrainingSpec
from common.events import FailedEvent, SucceededEvent
from common.settings import load_settings
from common.store import store_from_settings
from common.training_config import parse_run_config
from pydantic import ValidationError

from trainer.training.errors import TrainingError
from trainer.training.reporting import HttpReporter, LogForwarder, PrintReporter
from trainer.training.run_store import store_for_spec
from trainer.training.settings import TrainingSettings
from trainer.training.warm_start import AWAIT_SPEC, await_handoff, warm_up

log = logging.getLogger("trainer.training")


def parse_args(argv: list[str] | None) -> TrainingSpec:
    parser = argparse.ArgumentParser(prog="python -m trainer.training", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--spec", type=Path, help="path of a TrainingSpec JSON file")
    source.add_argument("--spec-json", help="the TrainingSpec as a JSON string")
    args = parser.parse_args(argv)
    raw = args.spec.read_text() if args.spec else args.spec_json
    return TrainingSpec.model_validate_json(raw)


def failure_message(error: BaseException) -> str:
    """What the run's error says: the actionable message of our errors, the field of a config error."""
    if isinstance(error, TrainingError):
        return error.message
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in error.errors()
        )
        return f"invalid training config: {problems}"
    return (
        f"training crashed ({type(error).__name__}: {error}); retry the run, and report it if it fails again"
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    spec = parse_args(argv)
    settings = load_settings(TrainingSettings)
    if settings.worker_threads:
        import torch

        torch.set_num_threads(settings.worker_threads)
    reporter = (
        HttpReporter(
            url=spec.report_url,
            token=settings.run_token,
            timeout_s=settings.report_timeout_s,
            attempts=settings.report_attempts,
        )
        if spec.report_url
        else PrintReporter()
    )
    if spec.heartbeat_s:
        reporter.start_heartbeat(spec.heartbeat_s, exit_with_parent=settings.exit_with_parent)
    if isinstance(reporter, HttpReporter):  # the run's logs tail (GET /runs/{id}/logs)
        logging.getLogger().addHandler(LogForwarder(reporter))
    try:
        config = parse_run_config(spec.config)  # a bad config fails before torch is even imported
        if config.task == "imagenet":  # its own recipe (DDP, checkpoints, ONNX + card at the end)
            from trainer.imagenet.train import run_spec

            return run_spec(spec)
        from trainer.training.run import run_training

        store = store_for_spec(spec, token=settings.run_token, fallback=lambda: store_from_settings(settings))
        result = run_training(spec, store=store, report=reporter, weights_dir=settings.weights_dir)
    except Exception as e:  # every failure becomes a 'failed' event a person can read
        log.exception("training failed")
        reporter(FailedEvent(error=failure_message(e)))
        reporter.close()
        return 1
    reporter(SucceededEvent(result=result.model_dump(mode="json")))
    reporter.close()
    return 0


def exit_now(code: int) -> None:
    """Leave without the interpreter's teardown (torch, ONNX Runtime, scipy, thread pools: tenths of a
    second): everything was reported and stored, and the trainer settles the run when the process ends."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    argv = None
    if sys.argv[1:] == [AWAIT_SPEC]:  # a warm worker of the local executor (``warm_start``)
        warm_up()
        if (argv := await_handoff()) is None:
            exit_now(0)
    exit_now(main(argv))
