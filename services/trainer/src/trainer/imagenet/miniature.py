"""A miniature ILSVRC2012 layout with the real naming, for tests, benches and a first run on a new cluster.

``write_miniature(root, classes=4, train_per_class=6, val_per_class=2)`` writes:
- ``ILSVRC2012_img_train.tar``: one inner ``nXXXXXXXX.tar`` per class of ``nXXXXXXXX_N.JPEG`` images;
- ``ILSVRC2012_img_val.tar``: flat ``ILSVRC2012_val_0000000K.JPEG`` in shuffled class order;
- ``ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt`` and ``meta.mat`` (written with
  ``scipy.io.savemat`` in the devkit's ``synsets`` layout, inner WordNet nodes included), and
  ``LOC_val_solution.csv``.
Each class is a colour plus a shape, so a tiny network can learn it. Returns the val labels it wrote.
"""

from __future__ import annotations

import io
import random
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


@dataclass(frozen=True)
class Miniature:
    train_tar: Path
    val_tar: Path
    ground_truth: Path
    meta_mat: Path
    loc_val_solution: Path
    wnids: list[str]
    val_labels: dict[str, str]  # val file name -> wnid


def class_image(index: int, *, seed: int, size: int = 48) -> bytes:
    """A ``size`` px high image: a class colour and shape on a textured background."""
    rng = random.Random(seed)
    hue = (index * 67) % 360
    colour = Image.new("HSV", (1, 1), (int(hue / 360 * 255), 200, 220)).convert("RGB").getpixel((0, 0))
    k = size / 48
    texture = np.random.default_rng(seed).integers(60, 120, (6, 8, 3), dtype=np.uint8)
    width = size + round(rng.randint(0, 24) * k)
    image = Image.fromarray(texture).resize((width, size), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    x, y, r = (round(v * k) for v in (rng.randint(0, 12), rng.randint(0, 12), rng.randint(20, 32)))
    if index % 2:
        draw.ellipse([x, y, x + r, y + r], fill=colour)
    else:
        draw.rectangle([x, y, x + r, y + r], fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def write_meta_mat(path: Path, wnids: list[str]) -> None:
    """The devkit's ``synsets`` struct array: leaves get ILSVRC2012_ID 1..N, then two inner nodes."""
    from scipy.io import savemat

    fields = [("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("num_children", "O")]
    rows = [(i + 1, w, f"class {w}", 0) for i, w in enumerate(wnids)]
    rows += [(len(wnids) + 1, "n99999998", "entity", 2), (len(wnids) + 2, "n99999999", "object", 3)]
    synsets = np.array(rows, dtype=fields).reshape(-1, 1)
    savemat(str(path), {"synsets": synsets})


def write_miniature(
    root: Path,
    *,
    classes: int = 4,
    train_per_class: int = 6,
    val_per_class: int = 2,
    seed: int = 0,
    image_size: int = 48,
) -> Miniature:
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    wnids = sorted(f"n{rng.randrange(10**7, 10**8):08d}" for _ in range(classes))
    train_tar = root / "ILSVRC2012_img_train.tar"
    with tarfile.open(train_tar, "w") as outer:
        for c, wnid in enumerate(wnids):
            inner = io.BytesIO()
            with tarfile.open(fileobj=inner, mode="w") as archive:
                for i in range(train_per_class):
                    _add(
                        archive,
                        f"{wnid}_{i + 1}.JPEG",
                        class_image(c, seed=seed * 100_003 + c * 1000 + i, size=image_size),
                    )
            _add(outer, f"{wnid}.tar", inner.getvalue())
    order = [c for c in range(classes) for _ in range(val_per_class)]
    rng.shuffle(order)
    val_tar, val_labels = root / "ILSVRC2012_img_val.tar", {}
    with tarfile.open(val_tar, "w") as archive:
        for n, c in enumerate(order, start=1):
            name = f"ILSVRC2012_val_{n:08d}.JPEG"
            _add(archive, name, class_image(c, seed=seed * 100_003 + 500 + n * 7919, size=image_size))
            val_labels[name] = wnids[c]
    devkit = root / "ILSVRC2012_devkit_t12" / "data"
    devkit.mkdir(parents=True, exist_ok=True)
    ground_truth = devkit / "ILSVRC2012_validation_ground_truth.txt"
    ground_truth.write_text("".join(f"{c + 1}\n" for c in order))
    meta_mat = devkit / "meta.mat"
    write_meta_mat(meta_mat, wnids)
    loc = root / "LOC_val_solution.csv"
    lines = [f"{name[:-5]},{wnid} 1 2 30 40" for name, wnid in val_labels.items()]
    loc.write_text("ImageId,PredictionString\n" + "\n".join(lines) + "\n")
    return Miniature(train_tar, val_tar, ground_truth, meta_mat, loc, wnids, val_labels)
