"""ILSVRC2012 tars -> ``train/<wnid>/*.JPEG`` + ``val/<wnid>/*.JPEG``, verified; a Job entrypoint.

``python -m trainer.imagenet.prepare --config prepare.json`` (or ``--config-json '<json>'``). Reads:
- the train tar (1000 inner tars ``nXXXXXXXX.tar``, one per class) and the val tar (flat
  ``ILSVRC2012_val_XXXXXXXX.JPEG``), from a mounted volume (``path``) or the object store (``key``),
  streamed, never extracted by ``tarfile.extractall`` (``safe_tar`` validates every name, refuses links);
- the devkit's ground truth for val (``devkit``): nothing is downloaded.

Restartable: a class goes to ``train/.partial-<wnid>`` and is renamed into place, then a marker
``.progress/train/<wnid>.done`` is written; a restart skips marked classes. Val images are written
atomically one by one and the split is marked when complete. Then every count is verified against
``expected`` (1000 classes, 1,281,167 train, 50,000 val by default) and ``prepared.json`` is written:
its presence means the directory is complete. Optionally a pre-resized, sharded copy (``shards``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trainer.imagenet.devkit import (
    VAL_IMAGE,
    DevkitError,
    labels_from_ground_truth,
    labels_from_loc_csv,
)
from trainer.imagenet.safe_tar import UnsafeArchive, iter_members

log = logging.getLogger("trainer.imagenet.prepare")

CLASS_TAR = re.compile(r"(n\d{8})\.tar")
TRAIN_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.(?:JPEG|jpeg|jpg|JPG)")
MANIFEST = "prepared.json"
PROGRESS = ".progress"


class PrepareError(Exception):
    """The inputs cannot give a complete, correct ImageNet directory; the message says what to fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Strict):
    """One input file: on a mounted volume (``path``) or in the object store (``key``), exactly one."""

    path: Path | None = None
    key: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        if (self.path is None) == (self.key is None):
            raise ValueError("give exactly one of 'path' (a mounted file) or 'key' (an object store key)")
        return self


class Devkit(_Strict):
    """The val ground truth: ``ground_truth`` + ``meta_mat`` (ILSVRC2012 devkit), or ``loc_val_solution``."""

    ground_truth: Source | None = None
    meta_mat: Source | None = None
    loc_val_solution: Source | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Devkit:
        pair = self.ground_truth is not None and self.meta_mat is not None
        if pair == (self.loc_val_solution is not None):
            raise ValueError(
                "give either ground_truth + meta_mat (ILSVRC2012 devkit) or loc_val_solution, not both"
            )
        return self


class Expected(_Strict):
    """Counts the result must have; the defaults are ILSVRC2012's (a miniature sets its own)."""

    classes: int = Field(1000, ge=1)
    train: int = Field(1_281_167, ge=1)
    val: int = Field(50_000, ge=1)


class ShardOptions(_Strict):
    """A pre-resized copy as WebDataset-style tars (``<key>.jpg`` + ``<key>.cls``), for fast loading."""

    shorter_side: int = Field(256, ge=32, le=1024, description="resize so the shorter side is this")
    images_per_shard: int = Field(1000, ge=1, le=100_000)
    quality: int = Field(90, ge=50, le=100, description="JPEG quality of the resized images")
    workers: int = Field(0, ge=0, le=256, description="processes; 0 = one per CPU")
    seed: int = Field(0, ge=0, description="train shards hold a seeded shuffle of all classes")


class PrepareConfig(_Strict):
    train_tar: Source
    val_tar: Source
    devkit: Devkit
    output_dir: Path
    expected: Expected = Field(default_factory=Expected)
    shards: ShardOptions | None = None


@contextmanager
def open_source(source: Source, store) -> Iterator[IO[bytes]]:
    if source.path is not None:
        if not source.path.is_file():
            raise PrepareError(f"{source.path} does not exist or is not a file: check the volume mount")
        with open(source.path, "rb") as f:
            yield f
        return
    if store is None or not store.exists(source.key):
        raise PrepareError(f"object {source.key!r} is not in the object store: upload it first")
    stream = store.open_stream(source.key)
    try:
        yield stream
    finally:
        stream.close()


def _local_copy(source: Source, store, scratch: Path) -> Path:
    if source.path is not None:
        return source.path
    target = scratch / Path(source.key).name
    with open_source(source, store) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return target


def _write_atomic(path: Path, stream: IO[bytes]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(stream, f, 1 << 20)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mark(marker: Path, payload: dict) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(f".tmp-{marker.name}")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, marker)


def extract_train(config: PrepareConfig, store) -> int:
    """Unpack every class not yet marked done; returns how many classes were unpacked now."""
    out, markers = config.output_dir / "train", config.output_dir / PROGRESS / "train"
    out.mkdir(parents=True, exist_ok=True)
    done = {f"{m.stem}.tar" for m in markers.glob("*.done")} if markers.is_dir() else set()
    unpacked = 0
    with open_source(config.train_tar, store) as stream:
        for inner in iter_members(stream, CLASS_TAR, skip=done):
            wnid = CLASS_TAR.fullmatch(inner.name).group(1)
            partial, final = out / f".partial-{wnid}", out / wnid
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            count = 0
            for image in iter_members(inner.stream, TRAIN_IMAGE):
                _write_atomic(partial / image.name, image.stream)
                count += 1
            shutil.rmtree(final, ignore_errors=True)  # a crash between rename and marker
            partial.rename(final)
            _mark(markers / f"{wnid}.done", {"images": count})
            unpacked += 1
            log.info("train class %s: %d images", wnid, count)
    return unpacked


def val_labels(config: PrepareConfig, store) -> dict[str, str]:
    devkit = config.devkit
    with tempfile.TemporaryDirectory() as scratch:
        if devkit.loc_val_solution is not None:
            return labels_from_loc_csv(_local_copy(devkit.loc_val_solution, store, Path(scratch)))
        return labels_from_ground_truth(
            _local_copy(devkit.ground_truth, store, Path(scratch)),
            _local_copy(devkit.meta_mat, store, Path(scratch)),
        )


def extract_val(config: PrepareConfig, store) -> bool:
    """Sort the val images into class folders; False when an earlier run already finished it."""
    marker = config.output_dir / PROGRESS / "val.done"
    if marker.exists():
        return False
    labels = val_labels(config, store)
    out = config.output_dir / "val"
    count = 0
    with open_source(config.val_tar, store) as stream:
        for image in iter_members(stream, VAL_IMAGE):
            wnid = labels.get(image.name)
            if wnid is None:
                raise PrepareError(f"val image {image.name} has no label in the devkit: wrong devkit?")
            (out / wnid).mkdir(parents=True, exist_ok=True)
            _write_atomic(out / wnid / image.name, image.stream)
            count += 1
    _mark(marker, {"images": count})
    log.info("val: %d images", count)
    return True


def count_images(split_dir: Path) -> dict[str, int]:
    """Images per class folder (hidden and partial entries ignored)."""
    if not split_dir.is_dir():
        return {}
    return {
        d.name: sum(1 for f in d.iterdir() if f.is_file() and not f.name.startswith("."))
        for d in sorted(split_dir.iterdir())
        if d.is_dir() and not d.name.startswith(".")
    }


def verify(config: PrepareConfig) -> dict:
    """Counts of the prepared directory, checked against ``expected``; raises ``PrepareError``."""
    train, val = count_images(config.output_dir / "train"), count_images(config.output_dir / "val")
    expected, problems = config.expected, []
    if len(train) != expected.classes:
        problems.append(f"{len(train)} train classes, expected {expected.classes}")
    if sum(train.values()) != expected.train:
        problems.append(f"{sum(train.values())} train images, expected {expected.train}")
    if sum(val.values()) != expected.val:
        problems.append(f"{sum(val.values())} val images, expected {expected.val}")
    if empty := sorted(c for c, n in train.items() if n == 0):
        problems.append(f"train classes without images: {', '.join(empty[:5])}")
    if unknown := sorted(set(val) - set(train)):
        problems.append(f"val classes with no train folder: {', '.join(unknown[:5])}")
    if problems:
        raise PrepareError("prepared data is incomplete: " + "; ".join(problems))
    return {
        "classes": sorted(train),
        "train_images": sum(train.values()),
        "val_images": sum(val.values()),
        "train_per_class": train,
        "val_per_class": val,
    }


def prepare(config: PrepareConfig, *, store=None) -> dict:
    """Run (or finish) the preparation; returns the manifest written to ``<output_dir>/prepared.json``."""
    config.output_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = config.output_dir / MANIFEST
    try:
        extract_train(config, store)
        extract_val(config, store)
        manifest = verify(config)
        if config.shards is not None:
            from trainer.imagenet.shards import write_shards

            manifest["shards"] = write_shards(
                config.output_dir, classes=manifest["classes"], options=config.shards
            )
    except (UnsafeArchive, DevkitError) as e:
        raise PrepareError(str(e)) from e
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(
        prog="python -m trainer.imagenet.prepare", description=__doc__.split("\n")[0]
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="path of a PrepareConfig JSON file")
    source.add_argument("--config-json", help="the PrepareConfig as a JSON string")
    args = parser.parse_args(argv)
    try:
        raw = args.config.read_text() if args.config else args.config_json
        config = PrepareConfig.model_validate_json(raw)
    except (OSError, ValidationError) as e:
        print(f"invalid prepare config: {e}", file=sys.stderr)
        return 2
    store = None
    if any(s.key for s in (config.train_tar, config.val_tar)) or "key" in raw:
        from common.store import store_from_settings

        from trainer.training.settings import TrainingSettings

        store = store_from_settings(TrainingSettings())
    try:
        manifest = prepare(config, store=store)
    except PrepareError as e:
        print(f"prepare failed: {e}", file=sys.stderr)
        return 1
    summary = {k: v for k, v in manifest.items() if not k.endswith("per_class") and k != "classes"}
    print(json.dumps({"classes": len(manifest["classes"]), **summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
