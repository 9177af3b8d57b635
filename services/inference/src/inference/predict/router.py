"""``POST /predict`` and ``POST /predict/batch``: authenticated by a model token only.

The gateway forwards ``/api/predict...`` here (with its internal token, which these routes ignore).
"""

from __future__ import annotations

from typing import Annotated, Any

from common.contracts import BatchPrediction, Prediction
from fastapi import APIRouter, Query, Request

from inference.deps import SessionCacheDep
from inference.predict import service
from inference.predict.auth import AuthorizedModelDep
from inference.predict.uploads import read_many_images, read_one_image
from inference.settings import Settings

MAX_TOP_K = 1000

router = APIRouter(prefix="/predict", tags=["predict"])

TopK = Annotated[
    int,
    Query(ge=1, le=MAX_TOP_K, description="how many classes to return; more than the model has returns all"),
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


@router.post("", openapi_extra=_SINGLE_BODY)
async def predict(
    request: Request, model: AuthorizedModelDep, sessions: SessionCacheDep, top_k: TopK = 5
) -> Prediction:
    """Classify one image: multipart field ``file``, or the raw image with an ``image/*`` content type."""
    settings = _settings(request)
    _, image = await read_one_image(request, max_bytes=settings.max_image_bytes)
    return await service.predict_one(
        sessions=sessions, model=model, image=image, top_k=top_k, max_pixels=settings.max_image_pixels
    )


@router.post("/batch", openapi_extra=_BATCH_BODY)
async def predict_batch(
    request: Request, model: AuthorizedModelDep, sessions: SessionCacheDep, top_k: TopK = 5
) -> BatchPrediction:
    """Classify several images (multipart fields ``files``) in one model run; results keep upload order."""
    settings = _settings(request)
    images = await read_many_images(
        request,
        max_bytes=settings.max_batch_bytes,
        max_file_bytes=settings.max_image_bytes,
        max_files=settings.max_batch_files,
    )
    return await service.predict_many(
        sessions=sessions, model=model, images=images, top_k=top_k, max_pixels=settings.max_image_pixels
    )
