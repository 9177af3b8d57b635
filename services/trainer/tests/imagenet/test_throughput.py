"""The synthetic-data throughput mode prints both figures and names the slower one."""

from __future__ import annotations

import json

from trainer.imagenet.throughput import Throughput, main


def test_throughput_mode_prints_model_and_loader_images_per_s(capsys):
    argv = ["--arch", "resnet_tiny", "--batch-size", "4", "--res", "32", "--steps", "2", "--warmup", "1",
            "--batches", "2", "--workers", "0"]  # fmt: skip
    assert main(argv) == 0
    line, human = capsys.readouterr().out.strip().splitlines()[-2:]
    summary = json.loads(line)
    assert summary["device"] == "CPU" and summary["processes"] == 1
    assert summary["model_images_per_s_per_device"] > 0 and summary["loader_images_per_s_per_process"] > 0
    assert human.endswith(summary["bottleneck"])


def test_the_bottleneck_is_the_slower_side():
    assert Throughput(100.0, 50.0, "GPU").bottleneck == "data loader"
    assert Throughput(100.0, 500.0, "GPU").bottleneck == "model (device)"
