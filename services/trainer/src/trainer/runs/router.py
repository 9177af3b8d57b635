from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

from common.contracts import RunCreate, RunLogLine, RunLogs, RunOut
from common.deps import InternalDep, OwnerDep, SessionDep, StoreDep
from common.errors import BadRequest, NotFound
from common.events import WorkerEvent
from common.headers import content_disposition
from common.ids import FileName, ResourceId
from common.params import Offset
from common.store import ObjectNotFound, object_chunks
from fastapi import APIRouter, BackgroundTasks, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from trainer.runs import event_log, purge, repository, service, stream, worker_events

# By suffix, not ``mimetypes``: the system's table maps ".pt" to a game-console format
# (application/vnd.snesdev-page-table) and differs between machines.
ARTIFACT_MEDIA_TYPES = {
    ".json": "application/json",
    ".png": "image/png",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".pt": "application/octet-stream",  # a torch.save zip; no registered type
    ".onnx": "application/octet-stream",  # no registered type either
    ".npz": "application/octet-stream",
}


def artifact_media_type(name: str) -> str:
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return ARTIFACT_MEDIA_TYPES.get(suffix, "application/octet-stream")


router = APIRouter(dependencies=[InternalDep], tags=["runs"])

LOG_TAIL_MAX = 1000
MAX_EVENT_ID = 2**31 - 1  # the column is a 32-bit integer
EVENT_ID = re.compile(r"[0-9]{1,10}")

# The resume checkpoint is a pickle for the worker's own use: never listed, never served.
_PRIVATE_ARTIFACTS = frozenset({"checkpoint.pt"})


@router.post("/runs", status_code=201)
async def create_run(
    body: RunCreate,
    owner: OwnerDep,
    session: SessionDep,
    store: StoreDep,
    request: Request,
    response: Response,
    tasks: BackgroundTasks,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> RunOut:
    """201 with the new run; 200 with the run an earlier request with the same ``Idempotency-Key``
    created (409 if that request was for a different run)."""
    run, created = await service.create_run(
        session,
        owner=owner,
        body=body,
        datasets=request.app.state.datasets,
        store=store,
        idempotency_key=idempotency_key,
        settings=request.app.state.settings,
    )
    if not created:
        response.status_code = 200
    else:  # after the response, so after the commit: the dispatcher finds the run at once
        tasks.add_task(request.app.state.dispatcher.wake)
    return await service.out_with_position(session, run)


@router.delete("/runs/{run_id}", status_code=204)
async def delete_run(
    run_id: ResourceId, owner: OwnerDep, session: SessionDep, store: StoreDep, request: Request
) -> None:
    """The run, its artifacts and its model (whose tokens stop working); a running run is stopped."""
    await purge.delete_owned_run(
        session,
        owner=owner,
        run_id=run_id,
        store=store,
        inference=request.app.state.inference,
        executor=request.app.state.executor,
    )


@router.delete("/datasets/{dataset_id}/runs")
async def delete_dataset_runs(
    dataset_id: ResourceId, owner: OwnerDep, session: SessionDep, store: StoreDep, request: Request
) -> dict[str, int]:
    """Every run of the caller on the data set, with its model and objects (``purge``); idempotent.
    The gateway calls it when the data set is deleted."""
    deleted = await purge.delete_dataset_runs(
        session,
        owner=owner,
        dataset_id=dataset_id,
        store=store,
        inference=request.app.state.inference,
        executor=request.app.state.executor,
    )
    return {"deleted": deleted}


@router.get("/runs")
async def list_runs(
    owner: OwnerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
    dataset_id: ResourceId | None = None,
) -> dict[str, Any]:
    rows, total = await repository.list_owned_runs(
        session, owner=owner, limit=limit, offset=offset, dataset_id=dataset_id
    )
    return {"items": [service.to_out(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/runs/{run_id}")
async def get_run(run_id: ResourceId, owner: OwnerDep, session: SessionDep) -> RunOut:
    return await service.out_with_position(
        session, await service.get_owned(session, owner=owner, run_id=run_id)
    )


@router.get(
    "/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "RunEventOut per message"}},
)
async def stream_events(
    run_id: ResourceId,
    owner: OwnerDep,
    request: Request,
    after: Annotated[int | None, Query(ge=0, le=MAX_EVENT_ID, description="resume after this id")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """The run's events as Server-Sent Events: everything after ``Last-Event-ID`` (or ``after``; from
    the start without either), then live until the run's terminal state event."""
    # Its own short session: the request's would hold a database connection for the whole stream.
    async with request.app.state.sessionmaker() as session:
        await service.get_owned(session, owner=owner, run_id=run_id)
    resume = after or 0
    if last_event_id:
        if not EVENT_ID.fullmatch(last_event_id) or int(last_event_id) > MAX_EVENT_ID:
            raise BadRequest("Last-Event-ID must be the id of an event of this stream (a number)")
        resume = int(last_event_id)
    settings = request.app.state.settings
    events = stream.run_events(
        request.app.state.sessionmaker,
        run_id=run_id,
        after=resume,
        poll_s=settings.events_poll_s,
        keepalive_s=settings.events_keepalive_s,
        open_streams=request.app.state.event_streams,
        changes=request.app.state.run_changes,
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


@router.get("/runs/{run_id}/logs")
async def run_logs(
    run_id: ResourceId,
    owner: OwnerDep,
    session: SessionDep,
    tail: Annotated[int, Query(ge=1, le=LOG_TAIL_MAX, description="how many of the last lines")] = 100,
) -> RunLogs:
    """The last ``tail`` lines the run's training process logged, oldest first."""
    await service.get_owned(session, owner=owner, run_id=run_id)
    rows = await event_log.log_tail(session, run_id=run_id, lines=tail)
    return RunLogs(items=[RunLogLine(seq=r.seq, at=r.at, **r.body) for r in rows])


@router.post("/runs/{run_id}/cancel")
async def cancel_run(
    run_id: ResourceId, owner: OwnerDep, session: SessionDep, request: Request, tasks: BackgroundTasks
) -> RunOut:
    run = await service.cancel_run(session, owner=owner, run_id=run_id)
    tasks.add_task(request.app.state.run_changes.changed, run_id)  # after the response: committed
    return service.to_out(run)


@router.get("/runs/{run_id}/artifacts")
async def list_artifacts(
    run_id: ResourceId, owner: OwnerDep, session: SessionDep, store: StoreDep
) -> dict[str, Any]:
    run = await service.get_owned(session, owner=owner, run_id=run_id)
    keys = await asyncio.to_thread(lambda: list(store.list(run.artifacts_prefix)))
    names = [k.removeprefix(run.artifacts_prefix) for k in keys]
    return {"items": [{"name": n} for n in names if "/" not in n and n not in _PRIVATE_ARTIFACTS]}


@router.get("/runs/{run_id}/artifacts/{name}")
async def get_artifact(
    run_id: ResourceId, name: FileName, owner: OwnerDep, session: SessionDep, store: StoreDep
):
    run = await service.get_owned(session, owner=owner, run_id=run_id)
    if name in _PRIVATE_ARTIFACTS:
        raise NotFound(
            f"no artifact {name!r} in run {run_id}; list them with GET /api/runs/{run_id}/artifacts"
        )
    try:
        chunks = await object_chunks(store, run.artifacts_prefix + name)
    except ObjectNotFound as e:
        raise NotFound(
            f"no artifact {name!r} in run {run_id}; list them with GET /api/runs/{run_id}/artifacts"
        ) from e
    media = artifact_media_type(name)
    headers = {"Content-Disposition": content_disposition(name)}
    return StreamingResponse(chunks, media_type=media, headers=headers)


worker_router = APIRouter(tags=["worker"])


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@worker_router.post("/internal/runs/{run_id}/events", status_code=204)
async def post_event(
    run_id: ResourceId, event: WorkerEvent, session: SessionDep, request: Request, tasks: BackgroundTasks
) -> None:
    """A training process reports progress with its attempt's token (``Authorization: Bearer``).
    422: not a valid event (``common.events.WorkerEvent``, the reason in the body); 401: not a token
    of this run; 409: the attempt was superseded and the worker must stop."""
    await worker_events.record_event(
        session,
        run_id=run_id,
        token=bearer_token(request),
        event=event,
        lease_s=request.app.state.settings.lease_s,
    )
    tasks.add_task(request.app.state.run_changes.changed, run_id)  # after the response: committed
