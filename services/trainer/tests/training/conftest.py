"""A tiny generated image data set in a LocalStore: 3 classes x 12 shapes (9 train, 3 validation each)."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from common.contracts import DatasetManifest, ManifestItem, TrainingSpec, manifest_key, run_prefix
from common.events import WorkerEvent, wire_event
from common.store import LocalStore
from PIL import Image, ImageDraw
from trainer.training import TrainingResult, run_training

SHAPES = {"circle": (220, 40, 40), "square": (40, 180, 60), "triangle": (40, 70, 220)}
PER_CLASS = 12
VAL_PER_CLASS = 3
DATASET_ID = "ds-shapes"


def shape_image(shape: str, colour: tuple[int, int, int], *, seed: int, size: int = 80) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size + rng.randint(0, 16)), tuple(rng.randint(90, 160) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    x, y, r = rng.randint(4, 24), rng.randint(4, 24), rng.randint(30, 48)
    fill = tuple(min(255, max(0, c + rng.randint(-25, 25))) for c in colour)
    if shape == "circle":
        draw.ellipse([x, y, x + r, y + r], fill=fill)
    elif shape == "square":
        draw.rectangle([x, y, x + r, y + r], fill=fill)
    else:
        draw.polygon([(x, y + r), (x + r, y + r), (x + r // 2, y)], fill=fill)
    return image


def write_dataset(store: LocalStore, dataset_id: str = DATASET_ID) -> str:
    pack, items = io.BytesIO(), []
    for c, (shape, colour) in enumerate(SHAPES.items()):
        for i in range(PER_CLASS):
            buffer = io.BytesIO()
            image = shape_image(shape, colour, seed=c * 1000 + i)
            image.save(buffer, "JPEG", quality=90)
            data = buffer.getvalue()
            items.append(
                ManifestItem(
                    label=shape,
                    split="val" if i < VAL_PER_CLASS else "train",
                    source=f"{shape}/{i:03d}.jpg",
                    offset=pack.tell(),
                    length=len(data),
                    width=image.width,
                    height=image.height,
                )
            )
            pack.write(data)
    pack_key = f"datasets/{dataset_id}/pack.bin"
    store.put_bytes(pack_key, pack.getvalue())
    manifest = DatasetManifest(
        dataset_id=dataset_id,
        name="shapes",
        kind="image",
        classes=list(SHAPES),
        seed=0,
        val_fraction=VAL_PER_CLASS / PER_CLASS,
        pack_key=pack_key,
        items=items,
    )
    store.put_bytes(manifest_key(dataset_id), manifest.model_dump_json().encode())
    return manifest_key(dataset_id)


@pytest.fixture(scope="module", autouse=True)
def _isolated_weights(tmp_path_factory: pytest.TempPathFactory):
    """Tests see neither the machine's weights dir nor its torch hub cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRAINYARD_TRAINER_WEIGHTS_DIR", raising=False)
        mp.delenv("TRAINYARD_WEIGHTS_DIR", raising=False)
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))
        torch.set_num_threads(2)
        yield


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "objects")
    write_dataset(store)
    return store


def make_spec(run_id: str = "run-1", **config) -> TrainingSpec:
    """A spec for the shapes data set; image_size 64 unless the config says otherwise."""
    return TrainingSpec(
        run_id=run_id,
        owner="alice",
        dataset_id=DATASET_ID,
        manifest_key=manifest_key(DATASET_ID),
        output_prefix=run_prefix(run_id),
        config={"image_size": 64, **config},
    )


@pytest.fixture
def spec_for() -> Callable[..., TrainingSpec]:
    return make_spec


class EventLog(list):
    """A ``report`` callback that keeps the events."""

    def __call__(self, event: WorkerEvent | dict) -> None:
        self.append(wire_event(event))  # validated: a malformed event fails the test that emits it

    def of(self, kind: str, phase: str | None = None) -> list[dict]:
        return [e for e in self if e["type"] == kind and (phase is None or e.get("phase") == phase)]


@pytest.fixture
def events() -> EventLog:
    return EventLog()


@pytest.fixture(scope="module")
def shapes_store(tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    """One store per test module, for runs shared by several tests."""
    store = LocalStore(tmp_path_factory.mktemp("objects"))
    write_dataset(store)
    return store


@dataclass
class FinishedRun:
    store: LocalStore
    result: TrainingResult
    events: EventLog


@pytest.fixture(scope="module")
def quick_run(shapes_store: LocalStore) -> FinishedRun:
    """A default (quick, efficientnet_lite0) run of 10 epochs, shared by the tests that inspect its output."""
    events = EventLog()
    result = run_training(make_spec("quick-1", epochs=10), store=shapes_store, report=events)
    return FinishedRun(shapes_store, result, events)
