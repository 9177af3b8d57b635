"""The object store as a training process sees it: reached through its attempt's token, nothing else.

``/internal/runs/{run_id}/objects/{key}``: GET streams an object, HEAD answers its size, PUT stores the
request body (streamed to a bounded temporary file, then written to the store in one piece, so a reader
never sees half an object); ``/internal/runs/{run_id}/objects?prefix=`` lists keys. The trainer's own
store does the I/O, so a LocalStore and S3 behave the same and the worker never holds their
credentials. Each request is authenticated like an event (``worker_events.authenticate``: 401 for a
token of no current attempt of this run, 409 for a superseded attempt) and checked against the run's
``ObjectScope`` (403 outside it); a bad key is a 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from typing import Annotated, Any

from common.bodies import TooLarge, capped_stream, refuse_declared_length
from common.deps import SessionDep, StoreDep
from common.errors import AppError, BadRequest, Forbidden, NotFound, PayloadTooLarge
from common.ids import ResourceId
from common.store import ObjectNotFound, ObjectStore, object_chunks, validate_key
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from trainer.runs import worker_events
from trainer.runs.object_scope import Access, ObjectScope

objects_router = APIRouter(tags=["worker"])

CHUNK = 1 << 20
KEPT_HEADER = "X-Trainyard-Kept"
LIST_LIMIT = 10_000


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def checked_key(key: str) -> str:
    try:
        return validate_key(key)
    except ValueError as e:
        raise BadRequest(
            f"{e}; keys are '/'-separated parts of letters, digits, '.', '_', '=' and '-'"
        ) from e


async def authorize(session, request: Request, *, run_id: str, key: str, access: Access) -> ObjectScope:
    run, _attempt = await worker_events.authenticate(session, run_id=run_id, token=bearer_token(request))
    scope = ObjectScope(run_id=run.id, dataset_id=run.dataset_id)
    if not scope.allows(key, access):
        raise Forbidden(
            f"run {run_id} may not {access} {key!r}; a run {access}s only under "
            + ", ".join(scope.read_prefixes() if access == "read" else scope.write_prefixes())
        )
    return scope


async def _size(store: ObjectStore, key: str) -> int:
    try:
        return await asyncio.to_thread(store.size, key)
    except ObjectNotFound as e:
        raise NotFound(f"no object {key!r}") from e


@objects_router.get("/internal/runs/{run_id}/objects")
async def list_objects(
    run_id: ResourceId,
    prefix: Annotated[str, Query(min_length=1, max_length=1024)],
    request: Request,
    session: SessionDep,
    store: StoreDep,
) -> dict[str, Any]:
    """Keys under ``prefix`` (which must lie inside what the run may read), at most 10,000."""
    run, _attempt = await worker_events.authenticate(session, run_id=run_id, token=bearer_token(request))
    scope = ObjectScope(run_id=run.id, dataset_id=run.dataset_id)
    checked_key(prefix.rstrip("/"))
    if not scope.allows_listing(prefix):
        raise Forbidden(f"run {run_id} may not list {prefix!r}; it reads only under {scope.read_prefixes()}")

    def first_keys() -> list[str]:
        keys = []
        for key in store.list(prefix):
            if len(keys) == LIST_LIMIT:
                raise BadRequest(f"more than {LIST_LIMIT} keys under {prefix!r}; list a narrower prefix")
            keys.append(key)
        return keys

    return {"keys": await asyncio.to_thread(first_keys)}


@objects_router.head("/internal/runs/{run_id}/objects/{key:path}")
async def head_object(
    run_id: ResourceId, key: str, request: Request, session: SessionDep, store: StoreDep
) -> Response:
    key = checked_key(key)
    await authorize(session, request, run_id=run_id, key=key, access="read")
    return Response(headers={"Content-Length": str(await _size(store, key))})


@objects_router.get("/internal/runs/{run_id}/objects/{key:path}")
async def get_object(run_id: ResourceId, key: str, request: Request, session: SessionDep, store: StoreDep):
    key = checked_key(key)
    await authorize(session, request, run_id=run_id, key=key, access="read")
    size = await _size(store, key)
    try:
        chunks = await object_chunks(store, key)
    except ObjectNotFound as e:
        raise NotFound(f"no object {key!r}") from e
    # Content-Length lets the worker tell a whole object from a cut connection.
    headers = {"Content-Length": str(size)}
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


@objects_router.put("/internal/runs/{run_id}/objects/{key:path}", status_code=204)
async def put_object(
    run_id: ResourceId, key: str, request: Request, session: SessionDep, store: StoreDep
) -> Response:
    key = checked_key(key)
    scope = await authorize(session, request, run_id=run_id, key=key, access="write")
    limit = request.app.state.settings.max_object_bytes
    too_large = _object_too_large(key, limit)
    refuse_declared_length(request, limit=limit, too_large=too_large)
    if scope.write_once(key) and await asyncio.to_thread(store.exists, key):
        # A shared cache entry is never replaced; the worker's copy is the same graph, so it goes on.
        return Response(status_code=204, headers={KEPT_HEADER: "existing"})
    content_type = request.headers.get("Content-Type", "application/octet-stream")
    fd, path = tempfile.mkstemp(prefix="trainyard-object-")
    try:
        with os.fdopen(fd, "wb") as f:
            await _spool(capped_stream(request, limit=limit, too_large=too_large), f)
        await asyncio.to_thread(store.put_file, key, path, content_type)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    # Checked again once written: a run cancelled or deleted while the body was arriving (its objects
    # already removed) must not keep an object written after that.
    await session.commit()  # ends the read transaction, so the check sees what committed meanwhile
    try:
        await worker_events.authenticate(session, run_id=run_id, token=bearer_token(request))
    except AppError:
        if not scope.write_once(key):
            await asyncio.to_thread(store.delete, key)
        raise
    return Response(status_code=204)


def _object_too_large(key: str, limit: int) -> TooLarge:
    def error(declared: int | None) -> PayloadTooLarge:
        size = f"over {limit} bytes" if declared is None else f"{declared} bytes"
        return PayloadTooLarge(f"{key!r} is {size}; a run's objects are at most {limit} bytes")

    return error


async def _spool(body: AsyncIterator[bytes], f) -> None:
    """The body to ``f`` in ~1 MiB writes off the event loop."""
    pending = bytearray()
    async for chunk in body:
        pending += chunk
        if len(pending) >= CHUNK:
            await asyncio.to_thread(f.write, bytes(pending))
            pending.clear()
    if pending:
        await asyncio.to_thread(f.write, bytes(pending))
