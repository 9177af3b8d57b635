"""Passes a request through to an internal service, streaming both bodies, and keeps the callee's status."""

from __future__ import annotations

from common.clients import ServiceClient
from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

_REQUEST_HEADERS = (
    "content-type",
    "content-length",
    "authorization",
    "accept",
    "idempotency-key",
    "last-event-id",
)
_RESPONSE_HEADERS = (
    "content-type",
    "content-disposition",
    "content-length",
    "cache-control",
    "etag",
    "x-accel-buffering",
)


async def forward(
    request: Request,
    client: ServiceClient,
    path: str,
    *,
    owner: str | None,
    body: bool = False,
    json_body: BaseModel | None = None,
) -> StreamingResponse:
    """``body`` streams the client's body through; ``json_body`` sends a body the gateway validated."""
    headers = {k: v for k, v in request.headers.items() if k.lower() in _REQUEST_HEADERS}
    content = request.stream() if body else None
    if json_body is not None:
        content = json_body.model_dump_json(exclude_unset=True).encode()
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        headers["content-type"] = "application/json"
    response = await client.open_stream(
        request.method,
        path,
        owner=owner,
        headers=headers,
        content=content,
        params=request.query_params,
    )
    # Streamed as it arrives (an event stream too); when the client goes away Starlette stops the
    # stream and the background task closes the upstream response, so the trainer sees it go.
    return StreamingResponse(
        response.aiter_raw(),
        status_code=response.status_code,
        headers={k: v for k, v in response.headers.items() if k.lower() in _RESPONSE_HEADERS},
        background=BackgroundTask(response.aclose),
    )
