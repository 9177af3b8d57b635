"""Forwards prediction requests to the inference service: the gateway's hot path.

Predictions are the one route called many times a second, so they go over their own pooled aiohttp
session rather than the httpx clients of the other routes: on 2 cores httpx took about 1 ms per
forwarded request when busy and 2.7 ms after an idle gap, aiohttp 0.4 and 1.4 ms (bench/serving.py
prints what the gateway adds). A body or answer small enough is passed in one piece; larger ones
stream through, so a batch upload is never held in the gateway's memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from common.contracts import INTERNAL_TOKEN_HEADER, REQUEST_ID_HEADER
from common.errors import ServiceUnavailable, UpstreamError
from common.logging import request_id_var
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

_REQUEST_HEADERS = ("content-type", "content-length", "authorization", "accept")
_RESPONSE_HEADERS = ("content-type", "content-disposition", "content-length", "cache-control", "etag")
# Bodies and answers up to this size are passed whole; larger ones stream in chunks of it.
WHOLE_BYTES = 1024 * 1024
# Below uvicorn's 5 s keep-alive, so the pool never reuses a connection the server is closing.
KEEPALIVE_S = 4.0
MAX_CONNECTIONS = 256


class PredictionForwarder:
    """One per gateway process; needs a running event loop (made in the lifespan)."""

    def __init__(self, base_url: str, *, internal_token: str, timeout_s: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_S),
            timeout=aiohttp.ClientTimeout(total=timeout_s, connect=5.0),
            headers={INTERNAL_TOKEN_HEADER: internal_token},
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def aclose(self) -> None:
        await self._session.close()

    async def forward(self, request: Request, path: str) -> Response:
        """The inference service's answer to this request at ``path``; its errors pass through as
        ``UpstreamError`` (status, message and ``Retry-After`` kept), an unreachable service is a 503."""
        headers = {k: v for k, v in request.headers.items() if k.lower() in _REQUEST_HEADERS}
        if rid := request_id_var.get():
            headers[REQUEST_ID_HEADER] = rid
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) <= WHOLE_BYTES:
            body: bytes | AsyncIterator[bytes] = await request.body()
        else:
            body = request.stream()
        try:
            response = await self._session.request(
                request.method,
                self._base_url + path,
                params=request.query_params.multi_items(),
                headers=headers,
                data=body,
            )
        except (TimeoutError, aiohttp.ClientError) as e:
            raise ServiceUnavailable(
                f"the inference service is unreachable ({type(e).__name__}); retry shortly"
            ) from e
        try:
            return await self._answer(response)
        except BaseException:
            response.release()
            raise

    async def _answer(self, response: aiohttp.ClientResponse) -> Response:
        passed = {k: v for k, v in response.headers.items() if k.lower() in _RESPONSE_HEADERS}
        if response.status >= 400:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            response.release()
            raise UpstreamError(
                response.status,
                body if isinstance(body, dict) else None,
                service="inference",
                retry_after=response.headers.get("retry-after"),
            )
        length = response.content_length
        if length is not None and length <= WHOLE_BYTES:
            content = await response.read()
            response.release()
            return Response(content, status_code=response.status, headers=passed)
        return StreamingResponse(
            response.content.iter_chunked(WHOLE_BYTES),
            status_code=response.status,
            headers=passed,
            background=BackgroundTask(response.release),
        )
