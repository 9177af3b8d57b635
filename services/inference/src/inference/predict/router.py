"""``POST /predict`` and ``POST /predict/batch``: authenticated by a model token only.

The gateway forwards ``/api/predict...`` here (with its internal token, which these routes ignore).
"""

from __future__ import annotations

from typing import Annotated, Any

from common.contracts import BatchPrediction, Prediction
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from inference.deps import ModelServerDep
from inference.predict import service, text_requests
from inference.predict.auth import AuthorizedModel, AuthorizedModelDep
from inference.predict.server import ModelServer
from inference.predict.text_requests import refuse_text_for_image_model
from inference.predict.uploads import read_many_images, read_one_image
from inference.settings import Settings

MAX_TOP_K = 1000

router = APIRouter(prefix="/predict", tags=["predict"])

TopK = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_TOP_K,
        description="how many classes to return (default: min(5, classes)); more than the model has is a 422",
    ),
]

_BINARY = {"type": "string", "format": "binary"}
_SINGLE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": _BINARY}, "required": ["file"]}
            },
            "image/*": {"schema": _BINARY},
        },
    }
}
_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"files": {"type": "array", "items": _BINARY}},
                    "required": ["files"],
                }
            }
        },
    }
}


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _text_args(request: Request, server: ModelServer, model: AuthorizedModel, top_k: int) -> dict[str, Any]:
    settings = _settings(request)
    return {
        "server": server,
        "model": model,
        "store": request.app.state.store,
        "top_k": top_k,
        "max_bytes": settings.max_batch_bytes,
        "max_texts": settings.max_texts,
    }


def _json(answer: BaseModel | Response) -> Response:
    """The answer serialized once: FastAPI would otherwise dump, re-validate and re-serialize it
    against the declared union, a measurable share of a small text model's request."""
    if isinstance(answer, Response):
        return answer
    return Response(answer.model_dump_json(), media_type="application/json")


_OVERLOAD = {503: {"description": "overloaded (code `overloaded`, with `Retry-After`) or model unavailable"}}


@router.post("", response_model=Prediction | BatchPrediction, openapi_extra=_SINGLE_BODY, responses=_OVERLOAD)
async def predict(
    request: Request, model: AuthorizedModelDep, server: ModelServerDep, top_k: TopK = None
) -> Response:
    """Classify one image: multipart field ``file``, or the raw image with an ``image/*`` content type.
    A text model: JSON ``{"text": "..."}`` (one prediction) or ``{"texts": [...]}`` (one per text)."""
    settings = _settings(request)
    k = service.resolve_top_k(top_k, classes=len(model.card.classes))
    if model.card.task == "text":
        with server.admission.slot(model.model_id):
            return _json(await text_requests.predict_json(request, **_text_args(request, server, model, k)))
    refuse_text_for_image_model(request)
    _, image = await read_one_image(request, max_bytes=settings.max_image_bytes)
    with server.admission.slot(model.model_id):
        return _json(
            await service.predict_one(
                server=server, model=model, image=image, top_k=k, max_pixels=settings.max_image_pixels
            )
        )


@router.post("/batch", response_model=BatchPrediction, openapi_extra=_BATCH_BODY, responses=_OVERLOAD)
async def predict_batch(
    request: Request, model: AuthorizedModelDep, server: ModelServerDep, top_k: TopK = None
) -> Response:
    """Classify several images (multipart fields ``files``) in one model run; results keep upload order.
    A text model: a CSV with a ``text`` column in, a CSV of the top-k labels and probabilities out."""
    settings = _settings(request)
    k = service.resolve_top_k(top_k, classes=len(model.card.classes))
    if model.card.task == "text":
        with server.admission.slot(model.model_id):
            return await text_requests.predict_csv(request, **_text_args(request, server, model, k))
    refuse_text_for_image_model(request)
    images = await read_many_images(
        request,
        max_bytes=settings.max_batch_bytes,
        max_file_bytes=settings.max_image_bytes,
        max_files=settings.max_batch_files,
    )
    with server.admission.slot(model.model_id, rows=len(images)):
        return _json(
            await service.predict_many(
                server=server,
                model=model,
                images=images,
                top_k=k,
                max_pixels=settings.max_image_pixels,
                max_request_pixels=settings.max_request_pixels,
            )
        )
