"""Data preparation on a generated miniature ILSVRC2012 layout (real naming, real devkit file formats)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from PIL import Image
from trainer.imagenet import prepare as prep
from trainer.imagenet.miniature import Miniature, write_miniature
from trainer.imagenet.prepare import PrepareConfig, PrepareError, main, prepare

CLASSES, TRAIN_PER_CLASS, VAL_PER_CLASS = 4, 5, 2


@pytest.fixture
def mini(tmp_path) -> Miniature:
    return write_miniature(
        tmp_path / "ilsvrc", classes=CLASSES, train_per_class=TRAIN_PER_CLASS, val_per_class=VAL_PER_CLASS
    )


def config_for(mini: Miniature, out: Path, *, loc: bool = False, **extra) -> PrepareConfig:
    devkit = (
        {"loc_val_solution": {"path": mini.loc_val_solution}}
        if loc
        else {"ground_truth": {"path": mini.ground_truth}, "meta_mat": {"path": mini.meta_mat}}
    )
    return PrepareConfig.model_validate(
        {
            "train_tar": {"path": mini.train_tar},
            "val_tar": {"path": mini.val_tar},
            "devkit": devkit,
            "output_dir": out,
            "expected": {
                "classes": CLASSES,
                "train": CLASSES * TRAIN_PER_CLASS,
                "val": CLASSES * VAL_PER_CLASS,
            },
            **extra,
        }
    )


def tree(root: Path) -> dict[str, bytes]:
    """Every visible file under train/ and val/ with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for split in ("train", "val")
        for p in sorted((root / split).rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


@pytest.mark.parametrize("loc", [False, True], ids=["ground_truth+meta.mat", "LOC_val_solution.csv"])
def test_prepare_sorts_train_and_val_into_one_folder_per_class(mini, tmp_path, loc):
    out = tmp_path / "out"
    manifest = prepare(config_for(mini, out, loc=loc))

    assert manifest["classes"] == mini.wnids
    assert sorted(p.name for p in (out / "train").iterdir()) == mini.wnids
    for wnid in mini.wnids:
        assert sorted(p.name for p in (out / "train" / wnid).iterdir()) == [
            f"{wnid}_{i}.JPEG" for i in range(1, TRAIN_PER_CLASS + 1)
        ]
    placed = {p.name: p.parent.name for p in (out / "val").rglob("*.JPEG")}
    assert placed == mini.val_labels
    assert json.loads((out / "prepared.json").read_text())["val_images"] == CLASSES * VAL_PER_CLASS


def test_prepare_reads_the_tars_and_devkit_from_the_object_store(mini, tmp_path, any_store):
    for name, path in [
        ("train.tar", mini.train_tar),
        ("val.tar", mini.val_tar),
        ("gt.txt", mini.ground_truth),
    ]:
        any_store.put_file(f"imagenet/raw/{name}", str(path))
    any_store.put_file("imagenet/raw/meta.mat", str(mini.meta_mat))
    config = config_for(mini, tmp_path / "out").model_copy(
        update={
            "train_tar": prep.Source(key="imagenet/raw/train.tar"),
            "val_tar": prep.Source(key="imagenet/raw/val.tar"),
            "devkit": prep.Devkit(
                ground_truth=prep.Source(key="imagenet/raw/gt.txt"),
                meta_mat=prep.Source(key="imagenet/raw/meta.mat"),
            ),
        }
    )
    prepare(config, store=any_store)
    assert tree(tmp_path / "out") == tree(_clean_run(mini, tmp_path / "reference"))


def _clean_run(mini: Miniature, out: Path) -> Path:
    prepare(config_for(mini, out))
    return out


def _crash_after(monkeypatch, writes: int) -> None:
    real, calls = prep._write_atomic, {"n": 0}

    def flaky(path, stream):
        calls["n"] += 1
        if calls["n"] > writes:
            raise OSError("node lost")
        real(path, stream)

    monkeypatch.setattr(prep, "_write_atomic", flaky)


@pytest.mark.parametrize("writes", [TRAIN_PER_CLASS * 2 + 2, CLASSES * TRAIN_PER_CLASS + 3])
def test_a_restart_after_a_crash_finishes_with_the_same_result(mini, tmp_path, monkeypatch, writes):
    out = tmp_path / "out"
    _crash_after(monkeypatch, writes)  # mid-class in train, or mid-way through val
    with pytest.raises(OSError, match="node lost"):
        prepare(config_for(mini, out))
    assert not (out / "prepared.json").exists()
    done_before = sorted(p.name for p in (out / ".progress" / "train").glob("*.done"))
    assert done_before  # some classes finished before the crash
    monkeypatch.undo()

    rewritten = []
    real = prep._write_atomic
    monkeypatch.setattr(prep, "_write_atomic", lambda p, s: (rewritten.append(p), real(p, s)))
    prepare(config_for(mini, out))
    redone = {p.parent.name.removeprefix(".partial-") + ".done" for p in rewritten if "train" in p.parts}
    monkeypatch.undo()

    assert tree(out) == tree(_clean_run(mini, tmp_path / "reference"))
    assert not list((out / "train").glob(".partial-*"))
    assert not redone & set(done_before)  # finished classes were skipped


def test_a_second_run_on_a_finished_directory_writes_nothing(mini, tmp_path, monkeypatch):
    out = tmp_path / "out"
    prepare(config_for(mini, out))
    before = tree(out)
    monkeypatch.setattr(prep, "_write_atomic", lambda p, s: pytest.fail(f"rewrote {p}"))
    prepare(config_for(mini, out))
    assert tree(out) == before


def test_counts_that_differ_from_the_expected_ones_fail_without_a_manifest(mini, tmp_path):
    config = config_for(mini, tmp_path / "out")
    config = config.model_copy(update={"expected": prep.Expected(classes=1000, train=1_281_167, val=50_000)})
    with pytest.raises(PrepareError, match=r"4 train classes, expected 1000.*20 train images"):
        prepare(config)
    assert not (tmp_path / "out" / "prepared.json").exists()


def _tar_with(path: Path, entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as archive:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                archive.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                archive.addfile(info, io.BytesIO(entry[1]))
    return path


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


def _inner(entries) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


HOSTILE_TRAIN = {
    "traversal in a class tar": [("n01440764.tar", _inner([("../../evil.JPEG", b"x")]))],
    "absolute path in a class tar": [("n01440764.tar", _inner([("/tmp/evil.JPEG", b"x")]))],
    "a symlink as a class tar": [_symlink("n01440764.tar", "/etc/passwd")],
    "a class tar in a folder": [("sub/n01440764.tar", _inner([]))],
    "not a class tar": [("evil.sh", b"#!/bin/sh")],
}


@pytest.mark.parametrize("entries", HOSTILE_TRAIN.values(), ids=HOSTILE_TRAIN.keys())
def test_hostile_tar_entries_are_refused_and_nothing_lands_outside(mini, tmp_path, entries):
    hostile = _tar_with(tmp_path / "hostile.tar", entries)
    config = config_for(mini, tmp_path / "a" / "b" / "out").model_copy(
        update={"train_tar": prep.Source(path=hostile)}
    )
    with pytest.raises(PrepareError, match="entry"):
        prepare(config)
    outside = [p for p in tmp_path.rglob("*evil*") if p != hostile]
    assert outside == [] and not Path("/tmp/evil.JPEG").exists()


def test_a_val_image_missing_from_the_ground_truth_is_named(mini, tmp_path):
    val = _tar_with(tmp_path / "val.tar", [("ILSVRC2012_val_00099999.JPEG", b"x")])
    config = config_for(mini, tmp_path / "out").model_copy(update={"val_tar": prep.Source(path=val)})
    with pytest.raises(PrepareError, match="ILSVRC2012_val_00099999.JPEG has no label"):
        prepare(config)


def test_shards_hold_every_image_resized_with_its_class_index(mini, tmp_path):
    out = tmp_path / "out"
    manifest = prepare(
        config_for(mini, out, shards={"shorter_side": 32, "images_per_shard": 7, "workers": 1})
    )
    index = manifest["shards"]
    labels, sizes = {}, set()
    for split in ("train", "val"):
        for name in index["splits"][split]["shards"]:
            with tarfile.open(out / "shards" / name) as archive:
                for member in archive.getmembers():
                    data = archive.extractfile(member).read()
                    key, suffix = member.name.rsplit(".", 1)
                    if suffix == "jpg":
                        sizes.add(min(Image.open(io.BytesIO(data)).size))
                    else:
                        labels[(split, key)] = int(data)
    assert len(labels) == CLASSES * (TRAIN_PER_CLASS + VAL_PER_CLASS)
    assert sizes == {32}
    assert all(mini.wnids[label] == key.split("_")[0] for (_, key), label in labels.items())
    assert index["images_per_s"] > 0


def test_the_job_entrypoint_exits_2_on_a_bad_config_and_0_with_a_summary(mini, tmp_path, capsys):
    bad = {
        "train_tar": {"path": "/x", "key": "y"},
        "val_tar": {"path": "/x"},
        "devkit": {},
        "output_dir": "/o",
    }
    assert main(["--config-json", json.dumps(bad)]) == 2
    assert "exactly one of 'path'" in capsys.readouterr().err
    good = config_for(mini, tmp_path / "out").model_dump_json()
    assert main(["--config-json", good]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary == {"classes": 4, "train_images": 20, "val_images": 8}
