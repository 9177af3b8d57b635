"""Which class each ILSVRC2012 validation image belongs to, from the devkit (nothing is downloaded).

Two sources, as the devkits ship them:
- ``ILSVRC2012_validation_ground_truth.txt`` (one ILSVRC2012_ID per line, line i = val image i) with
  ``meta.mat`` (the ``synsets`` struct array mapping ILSVRC2012_ID -> WNID; the 1000 classes are the
  leaves, ``num_children == 0``, IDs 1..1000);
- ``LOC_val_solution.csv`` (Kaggle's localisation devkit: ``ImageId,PredictionString`` whose first token
  is the WNID).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

WNID = re.compile(r"n\d{8}")
VAL_IMAGE = re.compile(r"ILSVRC2012_val_(\d{8})\.JPEG")


class DevkitError(ValueError):
    """The devkit files are missing, malformed, or disagree with each other."""


def wnids_by_ilsvrc_id(meta_mat: Path) -> dict[int, str]:
    """ILSVRC2012_ID -> WNID of the leaf synsets (the classes) in the devkit's ``meta.mat``."""
    from scipy.io import loadmat

    try:
        synsets = loadmat(str(meta_mat), squeeze_me=True)["synsets"]
    except (OSError, ValueError, KeyError) as e:
        raise DevkitError(f"{meta_mat.name}: not a devkit meta.mat with a 'synsets' array ({e})") from e
    fields = synsets.dtype.names or ()
    if not {"ILSVRC2012_ID", "WNID"} <= set(fields):
        raise DevkitError(f"{meta_mat.name}: synsets lack ILSVRC2012_ID/WNID (has {', '.join(fields)})")
    mapping: dict[int, str] = {}
    for synset in np.atleast_1d(synsets):
        if "num_children" in fields and int(synset["num_children"]) != 0:
            continue  # an inner node of the WordNet tree, not a class
        wnid = str(synset["WNID"])
        if not WNID.fullmatch(wnid):
            raise DevkitError(f"{meta_mat.name}: {wnid!r} is not a WNID (n + 8 digits)")
        mapping[int(synset["ILSVRC2012_ID"])] = wnid
    return mapping


def labels_from_ground_truth(ground_truth: Path, meta_mat: Path) -> dict[str, str]:
    """Val file name -> WNID from the ground-truth text file and meta.mat."""
    wnids = wnids_by_ilsvrc_id(meta_mat)
    labels: dict[str, str] = {}
    for line_no, line in enumerate(ground_truth.read_text().split(), start=1):
        try:
            labels[f"ILSVRC2012_val_{line_no:08d}.JPEG"] = wnids[int(line)]
        except (ValueError, KeyError) as e:
            raise DevkitError(
                f"{ground_truth.name} line {line_no}: {line!r} is not an ILSVRC2012_ID listed in "
                f"{meta_mat.name}"
            ) from e
    return labels


def labels_from_loc_csv(solution_csv: Path) -> dict[str, str]:
    """Val file name -> WNID from ``LOC_val_solution.csv``."""
    labels: dict[str, str] = {}
    reader = csv.DictReader(io.StringIO(solution_csv.read_text()))
    if not {"ImageId", "PredictionString"} <= set(reader.fieldnames or ()):
        raise DevkitError(f"{solution_csv.name}: expected the columns ImageId,PredictionString")
    for row in reader:
        image, tokens = row["ImageId"], (row["PredictionString"] or "").split()
        if not VAL_IMAGE.fullmatch(f"{image}.JPEG") or not tokens or not WNID.fullmatch(tokens[0]):
            raise DevkitError(f"{solution_csv.name} line {reader.line_num}: cannot read {image!r}")
        labels[f"{image}.JPEG"] = tokens[0]
    return labels
