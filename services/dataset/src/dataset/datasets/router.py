"""HTTP API of the dataset service. The gateway forwards ``/api/datasets/...`` here; every request
carries the internal token and the owner (``X-Trainyard-Owner``), and another owner's ids answer 404."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from common.contracts import DatasetOut
from common.deps import InternalDep, OwnerDep, SessionDep, StoreDep
from common.errors import Conflict, Unprocessable, validation_detail, validation_message
from common.headers import content_disposition
from common.ids import ResourceId
from common.params import Offset
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from dataset.datasets import service
from dataset.datasets.schemas import DatasetPage, DatasetPreview, UploadForm
from dataset.datasets.upload import receive_upload
from dataset.settings import Settings
from dataset.validation.limits import ValidationLimits

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[InternalDep], tags=["datasets"])


def _settings(request: Request) -> Settings:
    return request.app.state.settings


@asynccontextmanager
async def _scratch_dir(root: Path) -> AsyncIterator[Path]:
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    path = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="upload-", dir=root))
    try:
        yield path
    finally:
        await asyncio.to_thread(shutil.rmtree, path, True)


def _parse_form(fields: dict[str, str]) -> UploadForm:
    try:
        return UploadForm.model_validate(fields)
    except ValidationError as e:
        detail = validation_detail(list(e.errors()))
        raise Unprocessable(validation_message(detail), detail=detail, code="validation_error") from e


@router.post(
    "/datasets",
    status_code=201,
    response_model=DatasetOut,
    responses={200: {"description": "the same content and options were uploaded before: that data set"}},
)
async def upload_dataset(
    request: Request, response: Response, owner: OwnerDep, session: SessionDep, store: StoreDep
) -> DatasetOut:
    """Multipart: ``file`` plus the text fields of ``UploadForm``. 201 created, 200 already uploaded,
    409 same upload under another name, 413 past the byte cap, 422 rejected (the health report is in
    ``error.detail.report``)."""
    settings = _settings(request)
    async with _scratch_dir(settings.resolved_work_dir) as work_dir:
        upload = await receive_upload(
            request, destination=work_dir / "upload", max_file_bytes=settings.limits.upload_max_bytes
        )
        form = _parse_form(upload.fields)
        dataset, created = await service.create_dataset(
            session=session,
            store=store,
            settings=settings,
            validation_slots=request.app.state.validation_slots,
            owner=owner,
            upload=upload,
            form=form,
            work_dir=work_dir,
        )
    if not created:
        if form.name and form.name != dataset.name:
            # Silently answering with the old name would look like the new one was ignored.
            raise Conflict(
                f"this file was already uploaded with the same options as data set {dataset.name!r} "
                f"(id {dataset.id}), so it was not stored again under the name {form.name!r}; use that "
                "data set, or delete it first to upload the file under the new name",
                code="duplicate_upload",
                detail={"existing_id": dataset.id, "existing_name": dataset.name},
            )
        response.status_code = 200
    return dataset


@router.get("/datasets", response_model=DatasetPage)
async def list_datasets(
    owner: OwnerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Offset = 0,
) -> DatasetPage:
    """The caller's data sets, newest first; each with a short report (the full one is on GET by id)."""
    return await service.list_datasets(session, owner=owner, limit=limit, offset=offset)


@router.get("/limits", response_model=ValidationLimits)
async def limits(request: Request) -> ValidationLimits:
    """The validation limits in force (an operator sets them with TRAINYARD_DATASET_LIMITS__<NAME>)."""
    return _settings(request).limits


@router.get("/datasets/{dataset_id}", response_model=DatasetOut)
async def get_dataset(dataset_id: ResourceId, owner: OwnerDep, session: SessionDep) -> DatasetOut:
    return service.to_out(await service.get_owned(session, owner=owner, dataset_id=dataset_id))


@router.get("/datasets/{dataset_id}/preview", response_model=DatasetPreview)
async def preview_dataset(
    dataset_id: ResourceId, owner: OwnerDep, session: SessionDep, store: StoreDep
) -> DatasetPreview:
    """Up to 8 thumbnails per class (JPEG data: URLs), or up to 5 sample rows per class."""
    return await service.preview(session, store, owner=owner, dataset_id=dataset_id)


@router.get("/datasets/{dataset_id}/download")
async def download_dataset(
    dataset_id: ResourceId, owner: OwnerDep, session: SessionDep, store: StoreDep
) -> StreamingResponse:
    """The original upload, byte for byte."""
    row = await service.get_owned(session, owner=owner, dataset_id=dataset_id)
    body = await service.stream_object(store, row.original_key)
    media_type = "application/zip" if row.kind == "image" else "text/csv"
    return StreamingResponse(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(row.original_filename),
            "Content-Length": str(row.size_bytes),
        },
    )


@router.delete("/datasets/{dataset_id}", status_code=204)
async def delete_dataset(
    dataset_id: ResourceId, owner: OwnerDep, session: SessionDep, store: StoreDep
) -> Response:
    """Removes the data set, its objects and the features cached from it. The row is committed away
    first, so a failure while deleting the objects leaves orphans for the sweeper, never a row without
    objects. (Its runs and models are the trainer's: the gateway deletes those first.)"""
    prefixes = await service.delete(session, owner=owner, dataset_id=dataset_id)
    await session.commit()
    for prefix in prefixes:
        try:
            await asyncio.to_thread(store.delete_prefix, prefix)
        except Exception:  # noqa: BLE001 - the data set is gone for the user; the sweeper retries the objects
            log.exception("deleting the objects under %s failed; the sweeper will remove them", prefix)
    return Response(status_code=204)
