"""Validate a zip of images (one folder per class) and build the normalized pack.

Layout: ``<class>/<image>``, optionally all under one top-level folder; images in deeper folders
belong to their class folder (``cats/kittens/a.jpg`` is a cat). Empty class folders count as classes
(and fail the per-class minimum), so a forgotten folder is reported rather than silently ignored.

Blocking and CPU-heavy: the service calls it through ``asyncio.to_thread``. Entries are read one at a
time from the archive; decoding runs on a small thread pool with a bounded number in flight, so
memory stays at a few images whatever the archive holds.
"""

from __future__ import annotations

import zipfile
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from common.contracts import ManifestItem

from dataset.validation.classes import ClassRules, assign_splits, select_per_class, unsplit_counts
from dataset.validation.duplicates import Fingerprint, drop_exact_duplicates, group_near_duplicates
from dataset.validation.images import (
    DecodedImage,
    ImageProblem,
    configure_pillow,
    decode_image,
    thumbnail_data_url,
)
from dataset.validation.limits import ValidationLimits
from dataset.validation.report import Code, ProblemList, UploadRefused
from dataset.validation.result import ValidationResult, build_report, describe_numbers, refused_result
from dataset.validation.zip_reader import (
    ArchiveListing,
    EntryUnreadable,
    ReadBudget,
    ZipMember,
    list_members,
    looks_like_archive,
    open_archive,
    read_member,
)

PREVIEW_PER_CLASS = 8


@dataclass
class _Accepted:
    label: str
    source: str
    image: DecodedImage  # without its JPEG bytes, which went to the scratch pack
    offset: int
    length: int


def _limits_shown(limits: ValidationLimits) -> dict[str, object]:
    names = (
        "image_min_classes image_max_classes image_min_per_class image_max_per_class image_min_side "
        "image_small_side image_max_pixels zip_max_entries zip_max_entry_bytes zip_max_total_bytes "
        "zip_max_ratio"
    ).split()
    return {n: getattr(limits, n) for n in names}


def _strip_top_folder(listing: ArchiveListing) -> str | None:
    """The one optional top-level folder wrapping the class folders, if there is one."""
    roots = {m.parts[0] for m in listing.files} | {d[0] for d in listing.directories}
    if len(roots) != 1 or not any(len(m.parts) >= 3 for m in listing.files):
        return None
    top = roots.pop()
    listing.files = [ZipMember(info=m.info, parts=m.parts[1:]) for m in listing.files]
    listing.directories = [d[1:] for d in listing.directories if len(d) > 1]
    return top


def _classify_entries(
    listing: ArchiveListing, problems: ProblemList
) -> tuple[list[tuple[ZipMember, str]], set[str]]:
    """(member, label) for every file that may be an image, and every class folder seen."""
    if listing.junk:
        examples = ", ".join(listing.junk[:5])
        problems.info(
            Code.junk_skipped,
            f"Skipped {len(listing.junk)} operating-system or hidden files (for example {examples}).",
        )
    classes = {d[0].strip() for d in listing.directories if d[0].strip()}
    candidates: list[tuple[ZipMember, str]] = []
    seen_names: set[str] = set()
    for member in listing.files:
        if member.name in seen_names:
            problems.warning(
                Code.duplicate_entry_name, "Skipped: a second entry with the same name.", member.name
            )
            continue
        seen_names.add(member.name)
        label = member.parts[0].strip() if len(member.parts) >= 2 else ""
        if not label:
            problems.warning(
                Code.file_outside_class_folder,
                "Skipped: the file is not inside a class folder. "
                "Put every image in a folder named after its class.",
                member.name,
            )
            continue
        classes.add(label)
        if looks_like_archive(member.name, b""):
            problems.warning(
                Code.nested_archive, "Skipped: archives inside the zip are not opened.", member.name
            )
            continue
        candidates.append((member, label))
    return candidates, classes


def _decode_all(
    *,
    archive: zipfile.ZipFile,
    candidates: list[tuple[ZipMember, str]],
    limits: ValidationLimits,
    problems: ProblemList,
    scratch_pack: Path,
    workers: int,
) -> tuple[list[_Accepted], int]:
    budget = ReadBudget(limits=limits)
    accepted: list[_Accepted] = []
    in_flight: deque[tuple[ZipMember, str, Future[DecodedImage]]] = deque()

    def decode(data: bytes) -> DecodedImage:
        return decode_image(
            data,
            max_pixels=limits.image_max_pixels,
            min_side=limits.image_min_side,
            small_side=limits.image_small_side,
            max_side=limits.image_pack_max_side,
            jpeg_quality=limits.image_pack_jpeg_quality,
        )

    with open(scratch_pack, "wb") as pack, ThreadPoolExecutor(max_workers=workers) as pool:

        def collect_oldest() -> None:
            member, label, future = in_flight.popleft()
            try:
                image = future.result()
            except ImageProblem as e:
                problems.warning(e.code, e.message, member.name)
                return
            offset = pack.tell()
            pack.write(image.jpeg)
            accepted.append(
                _Accepted(
                    label=label,
                    source=member.name,
                    image=replace(image, jpeg=b""),
                    offset=offset,
                    length=len(image.jpeg),
                )
            )

        try:
            for member, label in candidates:
                try:
                    data = read_member(archive, member, budget=budget)
                except EntryUnreadable as e:
                    code = Code.encrypted_entry if "encrypted" in str(e) else Code.corrupt
                    problems.warning(code, f"Skipped: the zip entry cannot be read ({e}).", member.name)
                    continue
                if looks_like_archive(member.name, data[:512]):
                    problems.warning(
                        Code.nested_archive, "Skipped: archives inside the zip are not opened.", member.name
                    )
                    continue
                in_flight.append((member, label, pool.submit(decode, data)))
                del data
                if len(in_flight) > workers:
                    collect_oldest()
            while in_flight:
                collect_oldest()
        finally:
            for _member, _label, future in in_flight:
                future.cancel()
    return accepted, budget.total


def validate_image_archive(
    *,
    archive_path: Path,
    work_dir: Path,
    limits: ValidationLimits,
    val_fraction: float,
    seed: int,
    workers: int = 2,
) -> ValidationResult:
    """Validate ``archive_path``; on acceptance the pack is written to ``work_dir / 'pack.bin'``."""
    configure_pillow(max_pixels=limits.image_max_pixels)
    problems = ProblemList(max_listed=limits.report_max_problems)
    details: dict[str, object] = {"val_fraction": val_fraction, "seed": seed}
    shown = _limits_shown(limits)
    scratch_pack = work_dir / "scratch-pack.bin"
    try:
        with open_archive(archive_path, limits=limits) as archive:
            listing = list_members(archive, limits=limits)
            details["entries"] = len(archive.infolist())
            details["top_level_folder"] = _strip_top_folder(listing)
            candidates, class_names = _classify_entries(listing, problems)
            accepted, bytes_read = _decode_all(
                archive=archive,
                candidates=candidates,
                limits=limits,
                problems=problems,
                scratch_pack=scratch_pack,
                workers=workers,
            )
            details["bytes_decompressed"] = bytes_read
    except UploadRefused as refusal:
        scratch_pack.unlink(missing_ok=True)
        return refused_result(kind="image", problems=problems, refusal=refusal, details=details, limits=shown)

    try:
        return _finish(
            accepted=accepted,
            class_names=class_names,
            limits=limits,
            problems=problems,
            val_fraction=val_fraction,
            seed=seed,
            details=details,
            shown=shown,
            scratch_pack=scratch_pack,
            pack_path=work_dir / "pack.bin",
        )
    finally:
        scratch_pack.unlink(missing_ok=True)


def _warn_on_small_images(kept: list[_Accepted], *, limits: ValidationLimits, problems: ProblemList) -> None:
    """One warning for all small images (a CIFAR-like set holds thousands), naming a few."""
    small = [a for a in kept if a.image.upscaled]
    if not small:
        return
    shorter = sorted(min(a.image.original_width, a.image.original_height) for a in small)
    examples = ", ".join(a.source for a in small[:3])
    problems.warning(
        Code.upscaled,
        f"{len(small)} of {len(kept)} images are smaller than {limits.image_small_side} pixels on their "
        f"shorter side (from {shorter[0]} px, median {shorter[len(shorter) // 2]} px; e.g. {examples}). "
        "They are kept and upscaled to the model's input size, which blurs them: a model trained on them "
        "works best on images of the same size. Upload larger originals if you have them.",
    )


def _finish(
    *,
    accepted: list[_Accepted],
    class_names: set[str],
    limits: ValidationLimits,
    problems: ProblemList,
    val_fraction: float,
    seed: int,
    details: dict[str, object],
    shown: dict[str, object],
    scratch_pack: Path,
    pack_path: Path,
) -> ValidationResult:
    prints = [
        Fingerprint(label=a.label, source=a.source, key=a.image.sha256, dhash=a.image.dhash) for a in accepted
    ]
    dropped = drop_exact_duplicates(prints, problems=problems, noun="image")
    kept = [i for i in range(len(accepted)) if i not in dropped]
    group_of = group_near_duplicates(
        prints, kept=kept, max_distance=limits.near_duplicate_max_distance, problems=problems
    )
    members: dict[str, list[int]] = {name: [] for name in class_names}
    for i in kept:
        members[accepted[i].label].append(i)
    _warn_on_small_images([accepted[i] for i in kept], limits=limits, problems=problems)
    rules = ClassRules(
        min_classes=limits.image_min_classes,
        max_classes=limits.image_max_classes,
        min_per_class=limits.image_min_per_class,
        max_per_class=limits.image_max_per_class,
        imbalance_warn_ratio=limits.imbalance_warn_ratio,
        noun="images",
        how_to_add_class="Put each class in its own folder at the top of the zip "
        "(or under one top-level folder).",
    )
    used = select_per_class(members=members, rules=rules, seed=seed, problems=problems)
    distribution = {
        "width": describe_numbers([accepted[i].image.original_width for i in kept]),
        "height": describe_numbers([accepted[i].image.original_height for i in kept]),
        "formats": dict(Counter(accepted[i].image.format for i in kept)),
        "modes": dict(Counter(accepted[i].image.mode for i in kept)),
    }
    if problems.first_error is not None:
        report = build_report(
            kind="image",
            problems=problems,
            classes=unsplit_counts(members, used),
            distribution=distribution,
            details=details,
            limits=shown,
        )
        return ValidationResult(report=report)

    found = {name: len(items) for name, items in members.items()}
    splits, counts = assign_splits(
        used=used, found=found, group_of=group_of, val_fraction=val_fraction, seed=seed
    )
    items: list[ManifestItem] = []
    preview: dict[str, list[str]] = {}
    with open(scratch_pack, "rb") as scratch, open(pack_path, "wb") as pack:
        for name in sorted(used):
            for i in used[name]:
                a = accepted[i]
                scratch.seek(a.offset)
                jpeg = scratch.read(a.length)
                items.append(
                    ManifestItem(
                        label=name,
                        split=splits[i],
                        source=a.source,
                        offset=pack.tell(),
                        length=len(jpeg),
                        width=a.image.width,
                        height=a.image.height,
                    )
                )
                pack.write(jpeg)
                if len(preview.setdefault(name, [])) < PREVIEW_PER_CLASS:
                    preview[name].append(thumbnail_data_url(jpeg))
    report = build_report(
        kind="image",
        problems=problems,
        classes=counts,
        distribution=distribution,
        details=details,
        limits=shown,
    )
    return ValidationResult(
        report=report,
        classes=sorted(used),
        items=items,
        pack_path=pack_path,
        preview={"kind": "image", "classes": preview},
    )
