"""Typed HTTP clients the services use to call each other.

Errors from the callee pass through as UpstreamError. Every id put into a path goes through
``common.params.path_segment``, so no id can add a segment, a query or a fragment to the callee's URL."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import Any

import httpx

from common.contracts import (
    INTERNAL_TOKEN_HEADER,
    OWNER_HEADER,
    REQUEST_ID_HEADER,
    DatasetOut,
    ModelOut,
    ModelRegister,
    RunCreate,
    RunOut,
    TokenOut,
)
from common.errors import ServiceUnavailable, UpstreamError
from common.ids import path_segment
from common.logging import request_id_var

# One pooled client per callee for the life of the caller: keep-alive connections are reused, so a
# forwarded request costs no TCP handshake; the pool is sized for bursts of concurrent predictions.
POOL_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=128, keepalive_expiry=60)


class ServiceClient:
    service = "service"

    def __init__(self, base_url: str, *, internal_token: str, timeout: float = 60.0, transport=None) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=POOL_LIMITS,
            headers={INTERNAL_TOKEN_HEADER: internal_token},
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _headers(self, owner: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if owner is not None:
            headers[OWNER_HEADER] = owner
        if rid := request_id_var.get():
            headers[REQUEST_ID_HEADER] = rid
        return headers

    async def call(
        self,
        method: str,
        path: str,
        *,
        owner: str | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, path, headers=self._headers(owner, headers), **kwargs)
        except httpx.TransportError as e:
            raise self._unreachable(e) from e
        if response.status_code >= 400:
            raise _upstream_error(response, service=self.service)
        return response

    async def open_stream(
        self,
        method: str,
        path: str,
        *,
        owner: str | None = None,
        headers: Mapping[str, str] | None = None,
        content: AsyncIterable[bytes] | bytes | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Send (optionally streaming) and return the response unread; the caller must ``aclose()`` it."""
        request = self._http.build_request(
            method, path, headers=self._headers(owner, headers), content=content, params=params
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as e:
            raise self._unreachable(e) from e
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise _upstream_error(response, service=self.service)
        return response

    async def delete_if_present(self, path: str, *, owner: str) -> bool:
        """DELETE ``path``; False when the callee answers 404 (already deleted, or another owner's),
        so a retried or repeated delete is not an error. Any other error passes through."""
        try:
            await self.call("DELETE", path, owner=owner)
        except UpstreamError as e:
            if e.status_code == 404:
                return False
            raise
        return True

    def _unreachable(self, error: httpx.TransportError) -> ServiceUnavailable:
        return ServiceUnavailable(
            f"the {self.service} service is unreachable ({type(error).__name__}); retry shortly"
        )


def _upstream_error(response: httpx.Response, *, service: str) -> UpstreamError:
    return UpstreamError(
        response.status_code,
        _json_or_none(response),
        service=service,
        retry_after=response.headers.get("retry-after"),
    )


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class DatasetClient(ServiceClient):
    service = "dataset"

    async def get_dataset(self, *, owner: str, dataset_id: str) -> DatasetOut:
        response = await self.call("GET", f"/datasets/{path_segment(dataset_id)}", owner=owner)
        return DatasetOut.model_validate(response.json())

    async def delete_dataset(self, *, owner: str, dataset_id: str) -> bool:
        """False when there was no such data set (already deleted, or another owner's)."""
        return await self.delete_if_present(f"/datasets/{path_segment(dataset_id)}", owner=owner)


class TrainerClient(ServiceClient):
    service = "trainer"

    async def create_run(self, *, owner: str, body: RunCreate) -> RunOut:
        response = await self.call("POST", "/runs", owner=owner, json=body.model_dump(mode="json"))
        return RunOut.model_validate(response.json())

    async def get_run(self, *, owner: str, run_id: str) -> RunOut:
        response = await self.call("GET", f"/runs/{path_segment(run_id)}", owner=owner)
        return RunOut.model_validate(response.json())

    async def delete_dataset_runs(self, *, owner: str, dataset_id: str) -> int:
        """Deletes the owner's runs on the data set with their models and objects; how many there were."""
        response = await self.call("DELETE", f"/datasets/{path_segment(dataset_id)}/runs", owner=owner)
        return int(response.json()["deleted"])


class InferenceClient(ServiceClient):
    service = "inference"

    async def delete_model(self, *, owner: str, model_id: str) -> bool:
        """False when there was no such model (already deleted)."""
        return await self.delete_if_present(f"/models/{path_segment(model_id)}", owner=owner)

    async def register_model(self, *, owner: str, body: ModelRegister) -> ModelOut:
        response = await self.call("POST", "/models", owner=owner, json=body.model_dump(mode="json"))
        return ModelOut.model_validate(response.json())

    async def create_token(self, *, owner: str, model_id: str) -> TokenOut:
        response = await self.call("POST", f"/models/{path_segment(model_id)}/tokens", owner=owner)
        return TokenOut.model_validate(response.json())
