"""ResNet-50 on ImageNet from scratch under DDP: ``torchrun --nproc-per-node N -m trainer.imagenet.train``.

``--config-json '<ImageNetTrainConfig>'`` (or ``--config FILE``); ``--evaluate-only`` scores the
checkpoint with the same ``evaluate`` as training. Every epoch: train, evaluate (top-1/top-5 summed over
processes), rank 0 writes the checkpoint to the object store and reports an ``epoch`` event; the run
stops once top-1 reaches ``target_top1``. Started again after a lost pod, it resumes from the checkpoint
with the epoch count continued.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from common.contracts import TrainingSpec
from common.events import FailedEvent, ImageNetEpochEvent, PhaseEvent, SucceededEvent
from common.store import ObjectStore
from pydantic import ValidationError
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from trainer.imagenet.checkpoint import load_checkpoint, save_checkpoint
from trainer.imagenet.config import ImageNetRunConfig, ImageNetTrainConfig, peak_lr, train_res
from trainer.imagenet.data import (
    DataMissing,
    eval_loader,
    eval_transform,
    image_folder,
    set_train_res,
    train_loader,
    train_transform,
)
from trainer.imagenet.distributed import Distributed, init_distributed, shutdown
from trainer.imagenet.engine import build_model, evaluate, param_groups, train_one_epoch
from trainer.imagenet.prepare import MANIFEST
from trainer.training.settings import TrainingSettings

log = logging.getLogger("trainer.imagenet")

Report = Callable[[dict], None]


def _prepare_model(config: ImageNetTrainConfig, num_classes: int, dist: Distributed):
    model_without_ddp = build_model(config.arch, num_classes).to(dist.device)
    if config.channels_last:
        model_without_ddp = model_without_ddp.to(memory_format=torch.channels_last)
    model: nn.Module = model_without_ddp
    if dist.enabled:
        device_ids = [dist.device.index] if dist.device.type == "cuda" else None
        model = DistributedDataParallel(model_without_ddp, device_ids=device_ids)
    if config.compile:
        model = torch.compile(model)
    return model, model_without_ddp


Finish = Callable[[nn.Module, list[str], dict], dict]


def train(
    config: ImageNetTrainConfig,
    *,
    store: ObjectStore,
    report: Report,
    dist: Distributed,
    finish: Finish | None = None,
) -> dict:
    """Train (or resume) to ``epochs`` or ``target_top1``; returns the final metrics and history.

    ``finish(model, classes, result)`` runs on rank 0 at the end (the platform run's export); what it
    returns is merged into the result."""
    torch.manual_seed(config.seed)
    if not (config.data_dir / MANIFEST).is_file():
        raise DataMissing(
            f"{config.data_dir} holds no verified ImageNet copy ({MANIFEST} is missing): run the "
            "data-preparation Job (python -m trainer.imagenet.prepare) for it first"
        )
    shards = config.data_format == "shards"
    train_set = image_folder(config.data_dir, "train", train_transform(config.min_res), shards=shards)
    val_set = image_folder(config.data_dir, "val", eval_transform(config.eval_res), shards=shards)
    classes = len(train_set.classes)
    loader, sampler = train_loader(train_set, config, dist)
    val_loader = eval_loader(val_set, config, dist)
    model, model_without_ddp = _prepare_model(config, classes, dist)
    optimizer = torch.optim.SGD(param_groups(model_without_ddp, config), lr=0.0, momentum=config.momentum)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    peak = peak_lr(config, dist.world_size)

    start_epoch, history = 0, []
    checkpoint = load_checkpoint(store, config)
    if checkpoint is not None:
        model_without_ddp.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        start_epoch, history = int(checkpoint["epoch"]), list(checkpoint["history"])
    if dist.is_main:
        report(PhaseEvent(phase="training", resumed_from_epoch=start_epoch, classes=classes))

    reached = bool(history) and _reached(config, history[-1])
    for epoch in range(start_epoch, config.epochs):
        if reached:
            break
        res = train_res(config, epoch)
        set_train_res(train_set, res)
        sampler.set_epoch(epoch)
        stats = train_one_epoch(
            model, loss_fn, optimizer, loader, epoch=epoch, peak_lr=peak, config=config, dist=dist
        )
        metrics = evaluate(model_without_ddp, val_loader, config=config, dist=dist)
        row = {"epoch": epoch + 1, "res": res, **stats, **metrics, "world_size": dist.world_size}
        history.append(row)
        reached = _reached(config, row)
        if dist.is_main:
            save_checkpoint(
                store,
                config,
                {
                    "model": model_without_ddp.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "epoch": epoch + 1,
                    "history": history,
                    "world_size": dist.world_size,
                },
            )
            report(ImageNetEpochEvent(**row, epochs=config.epochs))
        log.info("epoch %d: %s", epoch + 1, json.dumps(row))
    final = history[-1] if history else {}
    result = {
        "epochs_run": len(history),
        "top1": final.get("top1"),
        "top5": final.get("top5"),
        "target_reached": reached,
        "history": history,
    }
    if finish is not None and dist.is_main:
        result |= finish(model_without_ddp, list(train_set.classes), result)
    return result


def _reached(config: ImageNetTrainConfig, row: dict) -> bool:
    return config.target_top1 is not None and row.get("top1", 0.0) >= config.target_top1


def evaluate_only(config: ImageNetTrainConfig, *, store: ObjectStore, dist: Distributed) -> dict:
    """Score the checkpoint under ``output_prefix`` on the val set with training's ``evaluate``."""
    checkpoint = load_checkpoint(store, config)
    if checkpoint is None:
        raise FileNotFoundError(f"no checkpoint under {config.output_prefix!r} to evaluate")
    shards = config.data_format == "shards"
    val_set = image_folder(config.data_dir, "val", eval_transform(config.eval_res), shards=shards)
    _, model_without_ddp = _prepare_model(config, len(val_set.classes), dist)
    model_without_ddp.load_state_dict(checkpoint["model"])
    return {
        "epoch": int(checkpoint["epoch"]),
        **evaluate(model_without_ddp, eval_loader(val_set, config, dist), config=config, dist=dist),
    }


def _reporter(report_url: str | None):
    from trainer.training.reporting import HttpReporter, PrintReporter

    if not report_url:
        return PrintReporter()
    from trainer.training.settings import TrainingSettings

    settings = TrainingSettings()
    return HttpReporter(
        url=report_url,
        token=settings.run_token,
        timeout_s=settings.report_timeout_s,
        attempts=settings.report_attempts,
    )


def config_for_spec(spec: TrainingSpec, settings: TrainingSettings) -> ImageNetTrainConfig:
    """The recipe of an ``imagenet`` run: its data under ``imagenet_data_root``, its outputs under the run."""
    run = ImageNetRunConfig.model_validate(spec.config)
    return ImageNetTrainConfig.model_validate(
        {
            **run.recipe(),
            "data_dir": settings.imagenet_data_root / run.data,
            "output_prefix": spec.output_prefix,
        }
    )


def run_spec(spec: TrainingSpec) -> int:
    """``python -m trainer.training`` for an imagenet run: in this process, or torchrun over the pod's
    GPUs when the run asks for more than one (the same entrypoint for the local worker and a Job)."""
    gpus = int(spec.config.get("gpus", 0) or 0)
    if gpus > torch.cuda.device_count():
        message = (
            f"the run asks for {gpus} GPUs and this worker has {torch.cuda.device_count()}: "
            "lower 'gpus', or run it where the GPUs are (the Kubernetes executor)"
        )
        _reporter(spec.report_url)(FailedEvent(error=message))
        return 1
    if gpus > 1:
        command = [
            sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={gpus}",
            "-m", "trainer.imagenet.train", "--spec-json", spec.model_dump_json(),
        ]  # fmt: skip
        return subprocess.call(command)
    return main(["--spec-json", spec.model_dump_json()])


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(
        prog="python -m trainer.imagenet.train", description=__doc__.split("\n")[0]
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="path of an ImageNetTrainConfig JSON file")
    source.add_argument("--config-json", help="the ImageNetTrainConfig as a JSON string")
    source.add_argument(
        "--spec-json", help="a TrainingSpec (a platform run): config = the recipe, checkpoint and model "
        "under its output_prefix, events to its report_url, model.onnx + model card at the end",
    )  # fmt: skip
    parser.add_argument("--report-url", help="trainer endpoint for progress events (default: stdout)")
    parser.add_argument("--evaluate-only", action="store_true", help="score the checkpoint and exit")
    args = parser.parse_args(argv)
    spec = TrainingSpec.model_validate_json(args.spec_json) if args.spec_json else None
    if spec is not None:
        try:
            config = config_for_spec(spec, TrainingSettings())
        except ValidationError as e:  # the run's error names the field
            from trainer.training.__main__ import failure_message

            _reporter(spec.report_url)(FailedEvent(error=failure_message(e)))
            return 1
        report_url = spec.report_url
    else:
        raw = args.config.read_text() if args.config else args.config_json
        config = ImageNetTrainConfig.model_validate_json(raw)
        report_url = args.report_url

    from common.store import store_from_settings

    from trainer.training.run_store import store_for_spec

    settings = TrainingSettings()
    store = (
        store_for_spec(spec, token=settings.run_token, fallback=lambda: store_from_settings(settings))
        if spec is not None
        else store_from_settings(settings)
    )
    dist = init_distributed()
    report = _reporter(report_url) if dist.is_main else (lambda event: None)
    finish = None
    if spec is not None:

        def finish(model: nn.Module, classes: list[str], result: dict) -> dict:
            from trainer.imagenet.artifacts import write_model_artifacts

            written = write_model_artifacts(
                model, config=config, classes=classes, result=result, store=store,
                run_id=spec.run_id, dataset_id=spec.dataset_id,
            )  # fmt: skip
            return {"platform_result": written.model_dump()}

    try:
        if args.evaluate_only:
            result = evaluate_only(config, store=store, dist=dist)
        else:
            result = train(config, store=store, report=report, dist=dist, finish=finish)
    except Exception as e:  # reported once, as a message a person can act on
        log.exception("imagenet run failed")
        if dist.is_main:
            from trainer.training.__main__ import failure_message

            report(FailedEvent(error=failure_message(e)))
        return 1
    finally:
        shutdown()
    if dist.is_main:
        summary = result.get("platform_result") or {k: v for k, v in result.items() if k != "history"}
        report(SucceededEvent(result=summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
