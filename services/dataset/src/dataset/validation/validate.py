"""The one entry point the service calls: decide what kind of upload this is, then validate it."""

from __future__ import annotations

from pathlib import Path

from common.contracts import DatasetKind

from dataset.validation.image_dataset import validate_image_archive
from dataset.validation.limits import ValidationLimits
from dataset.validation.report import Code, ProblemList, UploadRefused, refuse
from dataset.validation.result import ValidationResult, refused_result
from dataset.validation.text_dataset import validate_text_table

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_NOT_A_DATA_SET = {
    b"\xff\xd8\xff": "a single JPEG image",
    b"\x89PNG": "a single PNG image",
    b"GIF8": "a single GIF image",
    b"%PDF": "a PDF document",
    b"MZ": "a Windows executable",
    b"\x7fELF": "an ELF executable",
    b"\x1f\x8b": "a gzip file",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
}


def detect_kind(*, path: Path, filename: str, requested: DatasetKind | None) -> DatasetKind:
    """Zip archives are image sets; anything else is read as a CSV. Refuses what is clearly neither."""
    with open(path, "rb") as f:
        head = f.read(8)
    is_zip = head.startswith(ZIP_MAGIC)
    if requested == "text" and is_zip:
        raise refuse(
            Code.unsupported_file,
            "This is a zip archive, but kind=text was asked for. Text data sets are CSV or TSV files; "
            "image data sets are zips.",
        )
    if requested is not None:
        return requested
    if is_zip or filename.lower().endswith(".zip"):
        return "image"
    for magic, what in _NOT_A_DATA_SET.items():
        if head.startswith(magic):
            raise refuse(
                Code.unsupported_file,
                f"The file is {what}. Upload a zip with one folder of images per class, or a CSV/TSV with "
                "a text column and a label column.",
            )
    return "text"


def validate_upload(
    *,
    path: Path,
    filename: str,
    requested_kind: DatasetKind | None,
    work_dir: Path,
    limits: ValidationLimits,
    val_fraction: float,
    seed: int,
    text_column: str | None = None,
    label_column: str | None = None,
    decode_threads: int = 2,
) -> ValidationResult:
    """Blocking: run it in a worker thread. Never raises for bad input; the report says what is wrong."""
    try:
        kind = detect_kind(path=path, filename=filename, requested=requested_kind)
    except UploadRefused as refusal:
        problems = ProblemList(max_listed=limits.report_max_problems)
        return refused_result(
            kind=requested_kind or "text", problems=problems, refusal=refusal, details={}, limits={}
        )
    if kind == "image":
        return validate_image_archive(
            archive_path=path,
            work_dir=work_dir,
            limits=limits,
            val_fraction=val_fraction,
            seed=seed,
            workers=decode_threads,
        )
    return validate_text_table(
        table_path=path,
        filename=filename,
        limits=limits,
        val_fraction=val_fraction,
        seed=seed,
        text_column=text_column,
        label_column=label_column,
    )
