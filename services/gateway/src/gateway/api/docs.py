"""What the OpenAPI document says beyond the routes' signatures: streamed bodies, file answers, the one
error shape on every operation, and the offline Swagger UI / ReDoc pages."""

from __future__ import annotations

from typing import Any

from common.contracts import ErrorBody, RunEventOut
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response

BINARY: dict[str, Any] = {"type": "string", "format": "binary"}

DATASET_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {**BINARY, "description": "zip of class folders, or CSV/TSV"},
                        "name": {"type": "string", "maxLength": 200},
                        "description": {"type": "string", "maxLength": 5000},
                        "kind": {"type": "string", "enum": ["image", "text"]},
                        "val_fraction": {"type": "number"},
                        "seed": {"type": "integer", "minimum": 0},
                        "text_column": {"type": "string", "maxLength": 200},
                        "label_column": {"type": "string", "maxLength": 200},
                    },
                }
            }
        },
    }
}

PREDICT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": BINARY}, "required": ["file"]}
            },
            "image/*": {"schema": BINARY},
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "properties": {"text": {"type": "string", "minLength": 1}},
                            "required": ["text"],
                            "additionalProperties": False,
                        },
                        {
                            "type": "object",
                            "properties": {
                                "texts": {"type": "array", "items": {"type": "string"}, "minItems": 1}
                            },
                            "required": ["texts"],
                            "additionalProperties": False,
                        },
                    ]
                }
            },
        },
    },
    "security": [{"modelToken": []}],
}

PREDICT_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"files": {"type": "array", "items": BINARY}},
                    "required": ["files"],
                }
            },
            "text/csv": {
                "schema": {"type": "string", "description": "a text model's texts: a `text` column"}
            },
        },
    },
    "responses": {
        "200": {
            "description": "image models: JSON; text models: a CSV of the top-k labels and probabilities",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
    "security": [{"modelToken": []}],
}


# A Server-Sent Events answer: each message's data is a RunEventOut (its schema is in components).
EVENT_STREAM: dict[str, Any] = {
    "response_class": Response,
    "responses": {
        200: {
            "description": "text/event-stream; each message: id, event (its type), data (a RunEventOut)",
            "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/RunEventOut"}}},
        }
    },
}


def file_answer(*media_types: str) -> dict[str, Any]:
    """Route arguments for an answer that is a file's bytes."""
    content = {media: {"schema": BINARY} for media in media_types}
    return {"response_class": Response, "responses": {200: {"description": "the file", "content": content}}}


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "bad request",
        401: "no or unknown credentials",
        403: "refused: CSRF check, cross-site request, or a mode that does not allow this",
        404: "no such thing, or it belongs to someone else",
        409: "conflict with the current state",
        413: "the body is too large",
        415: "unsupported media type",
        422: "invalid input; `detail` names each field",
        429: "rate limited; see the Retry-After header",
        503: "a service is unreachable or busy; retry shortly",
    }.items()
}


def install_openapi(app: FastAPI, *, prefix: str) -> None:
    """One document for the platform: only /api/v1, the error shape everywhere, the two credentials."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title="Trainyard",
            version="1.0.0",
            description=(
                "Upload a labelled data set, train a classifier, watch it learn, call it over HTTP.\n\n"
                "Authenticate with an API key (`Authorization: Bearer tyk_...`, create one under "
                "`/api/v1/keys`) or a browser session (cookie, plus `X-CSRF-Token` on unsafe methods). "
                "Predictions take a model token instead. Every error has the shape "
                '`{"error": {"code", "message", "detail"}}`.'
            ),
            routes=app.routes,
        )
        schema["paths"] = {p: ops for p, ops in schema["paths"].items() if p.startswith(prefix)}
        components = schema.setdefault("components", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.get("schemas", {}).pop(name, None)
        # The event stream's message schema: no route returns it as JSON, so add it by hand.
        message = RunEventOut.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in {**message.pop("$defs", {}), "RunEventOut": message}.items():
            components.setdefault("schemas", {}).setdefault(name, definition)
        components["securitySchemes"] = {
            "apiKey": {"type": "http", "scheme": "bearer", "description": "an API key, tyk_..."},
            "session": {"type": "apiKey", "in": "cookie", "name": "trainyard_session"},
            "modelToken": {"type": "http", "scheme": "bearer", "description": "a model token (predict only)"},
        }
        schema["security"] = [{"apiKey": []}, {"session": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Trainyard API</title>
<link rel="stylesheet" href="/docs-assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/docs-assets/swagger-init.js"></script></body></html>"""

_REDOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Trainyard API</title></head>
<body><redoc spec-url="/openapi.json"></redoc>
<script src="/docs-assets/redoc.standalone.js"></script></body></html>"""

docs_router = APIRouter(include_in_schema=False)


@docs_router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    """Swagger UI from files the gateway serves itself (no CDN: it works offline)."""
    return HTMLResponse(_SWAGGER)


@docs_router.get("/redoc")
async def redoc() -> HTMLResponse:
    return HTMLResponse(_REDOC)
