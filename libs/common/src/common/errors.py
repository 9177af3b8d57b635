"""One error type per failure a user can act on.

Each carries its HTTP status and a message that says what to do."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from common.ids import PATTERN_RULES


class AppError(Exception):
    status_code = 400
    code = "bad_request"
    # Response headers that belong with the answer (e.g. Retry-After on a 503).
    headers: dict[str, str] | None = None

    def __init__(self, message: str, *, detail: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if code:
            self.code = code

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return {"error": error}


class BadRequest(AppError):
    status_code, code = 400, "bad_request"


class Unauthorized(AppError):
    status_code, code = 401, "unauthorized"


class Forbidden(AppError):
    status_code, code = 403, "forbidden"


class NotFound(AppError):
    status_code, code = 404, "not_found"


class Conflict(AppError):
    status_code, code = 409, "conflict"


class PayloadTooLarge(AppError):
    status_code, code = 413, "payload_too_large"


class UnsupportedMediaType(AppError):
    status_code, code = 415, "unsupported_media_type"


class Unprocessable(AppError):
    status_code, code = 422, "unprocessable"


class TooManyRequests(AppError):
    status_code, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, detail={"retry_after_s": retry_after})
        self.headers = {"Retry-After": str(retry_after)}


class ServiceUnavailable(AppError):
    status_code, code = 503, "service_unavailable"


class UpstreamError(AppError):
    """Another service answered with an error; its status and message pass through unchanged.

    A 4xx or a 503 (overloaded or unavailable: the caller should retry, and ``Retry-After`` says
    when) keeps its status; any other 5xx is the callee's fault and becomes a 502.
    """

    def __init__(
        self,
        status_code: int,
        body: dict[str, Any] | None,
        *,
        service: str,
        retry_after: str | None = None,
    ) -> None:
        error = (body or {}).get("error") or {}
        message = error.get("message") or f"the {service} service answered {status_code}"
        super().__init__(message, detail=error.get("detail"), code=error.get("code") or "upstream_error")
        self.status_code = status_code if 400 <= status_code < 500 or status_code == 503 else 502
        self.service = service
        if retry_after is not None and self.status_code in (429, 503):
            self.headers = {"Retry-After": retry_after}


def validation_detail(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        if err.get("type") == "json_invalid":
            # FastAPI puts the character offset where a field name would be: say what it means.
            loc = err.get("loc", ())
            where = f" at character {loc[-1]}" if len(loc) > 1 and isinstance(loc[-1], int) else ""
            reason = (err.get("ctx") or {}).get("error", "JSON decode error")
            out.append({"field": None, "message": f"the body is not valid JSON: {reason}{where}"})
            continue
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        if loc[:1] == ["config"] and loc[1:2] in (["image"], ["text"]):
            del loc[1]  # the tag of the config union (the run's task), not a field a person can set
        message = err.get("msg", "invalid value")
        if err.get("type") == "string_pattern_mismatch":
            message = PATTERN_RULES.get((err.get("ctx") or {}).get("pattern"), message)
        out.append({"field": ".".join(loc) or None, "message": message})
    return out


def validation_message(detail: list[dict[str, Any]]) -> str:
    parts = [f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in detail]
    return "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = validation_detail(list(exc.errors()))
        body = {
            "error": {"code": "validation_error", "message": validation_message(detail), "detail": detail}
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such endpoint; see /docs for the API"
        elif exc.status_code == 405:
            message = "method not allowed on this endpoint; see /docs for the API"
        body = {"error": {"code": f"http_{exc.status_code}", "message": message}}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    # Unhandled exceptions are answered by common.logging.RequestIdMiddleware, which knows the request id.
