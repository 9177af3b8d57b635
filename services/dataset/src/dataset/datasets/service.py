"""Data set use cases: create (validate, store, record), read, preview, download, delete.

Objects first, then the row: an accepted upload's objects are written under ``datasets/<id>/`` before
the row is added, and the row commits at the request boundary. A crash in between leaves objects
without a row, which the sweeper removes; never a row that points at nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.contracts import (
    DatasetKind,
    DatasetManifest,
    DatasetOut,
    dataset_prefix,
    features_prefix,
    manifest_key,
)
from common.errors import NotFound, Unprocessable
from common.store import ObjectNotFound, ObjectStore, object_chunks
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dataset.datasets import repository
from dataset.datasets.models import Dataset
from dataset.datasets.schemas import DatasetPage, DatasetPreview, UploadForm
from dataset.datasets.upload import ReceivedUpload
from dataset.settings import Settings
from dataset.validation.result import ValidationResult
from dataset.validation.validate import validate_upload

_ID_TIME_HEX = 12  # milliseconds since the epoch, so the sweeper can tell an object's age from its key


def new_dataset_id() -> str:
    return f"{int(time.time() * 1000):0{_ID_TIME_HEX}x}{secrets.token_hex(10)}"


def dataset_id_age_s(dataset_id: str, *, now: float) -> float | None:
    """Seconds since the id was issued, or None if it is not one of ours."""
    if len(dataset_id) != 32 or any(c not in "0123456789abcdef" for c in dataset_id):
        return None
    return now - int(dataset_id[:_ID_TIME_HEX], 16) / 1000


def object_keys(dataset_id: str) -> dict[str, str]:
    prefix = dataset_prefix(dataset_id)
    return {
        "original": f"{prefix}original",
        "pack": f"{prefix}pack.bin",
        "preview": f"{prefix}preview.json",
        "manifest": manifest_key(dataset_id),
    }


def to_out(row: Dataset, *, full_report: bool = True) -> DatasetOut:
    report = row.report
    if not full_report:
        report = {k: report.get(k) for k in ("verdict", "summary", "problem_counts")}
    return DatasetOut(
        id=row.id,
        owner=row.owner,
        name=row.name,
        description=row.description,
        kind=row.kind,  # type: ignore[arg-type]
        verdict=row.verdict,  # type: ignore[arg-type]
        classes=row.classes,
        class_counts=row.class_counts,
        num_items=row.num_items,
        val_fraction=row.val_fraction,
        seed=row.seed,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        manifest_key=row.manifest_key,
        report=report,
        created_at=row.created_at,
    )


def _resolved_options(form: UploadForm, settings: Settings) -> tuple[float, int]:
    limits = settings.limits
    val_fraction = limits.val_fraction_default if form.val_fraction is None else form.val_fraction
    if not limits.val_fraction_min <= val_fraction <= limits.val_fraction_max:
        raise Unprocessable(
            f"val_fraction {val_fraction:g} is outside the allowed range {limits.val_fraction_min:g}.."
            f"{limits.val_fraction_max:g} (a train/validation split from "
            f"{round((1 - limits.val_fraction_min) * 100)}:{round(limits.val_fraction_min * 100)} to "
            f"{round((1 - limits.val_fraction_max) * 100)}:{round(limits.val_fraction_max * 100)})",
            code="val_fraction_out_of_range",
        )
    return val_fraction, settings.default_seed if form.seed is None else form.seed


def _upload_key(
    *, sha256: str, kind: DatasetKind | None, val_fraction: float, seed: int, form: UploadForm
) -> str:
    options = {
        "sha256": sha256,
        "kind": kind,
        "val_fraction": val_fraction,
        "seed": seed,
        "text_column": form.text_column,
        "label_column": form.label_column,
    }
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()


def _write_objects(
    *,
    store: ObjectStore,
    keys: dict[str, str],
    upload: ReceivedUpload,
    result: ValidationResult,
    manifest: DatasetManifest,
) -> None:
    store.put_file(keys["original"], str(upload.path))
    if result.pack_path is not None:
        store.put_file(keys["pack"], str(result.pack_path))
    store.put_bytes(keys["preview"], json.dumps(result.preview).encode(), "application/json")
    # The manifest goes last: its presence means the set is complete.
    store.put_bytes(keys["manifest"], manifest.model_dump_json().encode(), "application/json")


async def create_dataset(
    *,
    session: AsyncSession,
    store: ObjectStore,
    settings: Settings,
    validation_slots: asyncio.Semaphore,
    owner: str,
    upload: ReceivedUpload,
    form: UploadForm,
    work_dir: Path,
) -> tuple[DatasetOut, bool]:
    """The data set and whether it was created now (False: the same upload existed already)."""
    val_fraction, seed = _resolved_options(form, settings)
    upload_key = _upload_key(
        sha256=upload.sha256, kind=form.kind, val_fraction=val_fraction, seed=seed, form=form
    )
    existing = await repository.find_by_upload_key(session, owner=owner, upload_key=upload_key)
    if existing is not None:
        return to_out(existing), False

    async with validation_slots:
        result = await asyncio.to_thread(
            validate_upload,
            path=upload.path,
            filename=upload.filename,
            requested_kind=form.kind,
            work_dir=work_dir,
            limits=settings.limits,
            val_fraction=val_fraction,
            seed=seed,
            text_column=form.text_column,
            label_column=form.label_column,
            decode_threads=settings.decode_threads,
        )
    report = result.report
    if not result.accepted:
        raise Unprocessable(
            report.summary, code="dataset_rejected", detail={"report": report.model_dump(mode="json")}
        )

    dataset_id = new_dataset_id()
    keys = object_keys(dataset_id)
    manifest = DatasetManifest(
        dataset_id=dataset_id,
        name=form.name or Path(upload.filename).stem or "data set",
        kind=report.kind,
        classes=result.classes,
        seed=seed,
        val_fraction=val_fraction,
        pack_key=keys["pack"] if result.pack_path is not None else None,
        items=result.items,
    )
    await asyncio.to_thread(
        _write_objects, store=store, keys=keys, upload=upload, result=result, manifest=manifest
    )
    row = Dataset(
        id=dataset_id,
        owner=owner,
        name=manifest.name,
        description=form.description,
        kind=report.kind,
        verdict=report.verdict,
        classes=result.classes,
        class_counts={c.name: c.used for c in report.classes},
        num_items=report.num_items,
        val_fraction=val_fraction,
        seed=seed,
        sha256=upload.sha256,
        size_bytes=upload.size,
        original_filename=upload.filename,
        upload_key=upload_key,
        options=form.model_dump(mode="json", exclude={"name", "description"}),
        original_key=keys["original"],
        manifest_key=keys["manifest"],
        pack_key=manifest.pack_key,
        preview_key=keys["preview"],
        report=report.model_dump(mode="json"),
        created_at=datetime.now(UTC),
    )
    try:
        async with session.begin_nested():
            await repository.add_dataset(session, row)
    except IntegrityError:
        # The same upload committed concurrently: keep that one, drop ours.
        await asyncio.to_thread(store.delete_prefix, dataset_prefix(dataset_id))
        existing = await repository.find_by_upload_key(session, owner=owner, upload_key=upload_key)
        if existing is None:
            raise
        return to_out(existing), False
    return to_out(row), True


async def get_owned(session: AsyncSession, *, owner: str, dataset_id: str) -> Dataset:
    row = await repository.get_owned_dataset(session, owner=owner, dataset_id=dataset_id)
    if row is None:
        raise NotFound(
            f"no data set {dataset_id!r}; list yours with GET /api/datasets", code="dataset_not_found"
        )
    return row


async def list_datasets(session: AsyncSession, *, owner: str, limit: int, offset: int) -> DatasetPage:
    rows, total = await repository.list_owned_datasets(session, owner=owner, limit=limit, offset=offset)
    return DatasetPage(items=[to_out(r, full_report=False) for r in rows], total=total)


async def _read_json(store: ObjectStore, key: str) -> Any:
    try:
        data = await asyncio.to_thread(store.get_bytes, key)
    except ObjectNotFound as e:
        raise NotFound(f"the stored objects of this data set are missing ({key}); upload it again") from e
    return json.loads(data)


async def preview(
    session: AsyncSession, store: ObjectStore, *, owner: str, dataset_id: str
) -> DatasetPreview:
    row = await get_owned(session, owner=owner, dataset_id=dataset_id)
    stored = await _read_json(store, row.preview_key)
    return DatasetPreview(
        dataset_id=row.id, kind=row.kind, classes=stored["classes"], text_column=stored.get("text_column")
    )


async def stream_object(store: ObjectStore, key: str) -> AsyncIterator[bytes]:
    try:
        return await object_chunks(store, key)
    except ObjectNotFound as e:
        raise NotFound(f"the original file of this data set is missing ({key})") from e


async def delete(session: AsyncSession, *, owner: str, dataset_id: str) -> tuple[str, ...]:
    """Remove the row; returns the object prefixes the caller deletes once the row is committed away:
    the data set's own objects and the feature cache the trainer derived from it."""
    row = await get_owned(session, owner=owner, dataset_id=dataset_id)
    await repository.delete_dataset(session, dataset_id=row.id)
    return dataset_prefix(row.id), features_prefix(row.id)
