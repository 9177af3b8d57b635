"""``python -m trainer.training.prepare [--backbone NAME ...] [--image-size 224]``: prepare pretrained
backbones in the configured object store (graph, state dict, normalisation; ``image/backbone_onnx.py``),
so that quick runs on CPU start without torch. Once per store and backbone; idempotent. The trainer
service runs it for its ``prepare_backbones`` in the background at start, unless they are prepared
(``trainer.backbone_preparation``); the first torch run of a backbone does it too.
"""

from __future__ import annotations

import argparse
import sys
import time

from common.settings import load_settings
from common.store import store_from_settings
from common.training_config import ImageTrainConfig

from trainer.training.image.backbone_onnx import prepare_backbone
from trainer.training.settings import TrainingSettings


def main(argv: list[str] | None = None) -> int:
    default = ImageTrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m trainer.training.prepare", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--backbone", action="append", help=f"default: {default.backbone}")
    parser.add_argument("--image-size", type=int, default=default.image_size)
    args = parser.parse_args(argv)
    settings = load_settings(TrainingSettings)
    store = store_from_settings(settings)
    for backbone in args.backbone or [default.backbone]:
        started = time.perf_counter()
        key = prepare_backbone(
            store=store, backbone=backbone, image_size=args.image_size, weights_dir=settings.weights_dir
        )
        seconds = time.perf_counter() - started
        print(f"{backbone}: {key or 'no pretrained weights, nothing to prepare'} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
