"""The public API. Each route names what it does, declares its body and answer from ``common.contracts``,
and passes the request to the service that owns it. The services' answers stream through unchanged.

Ids and names are validated here (``common.params``) and percent-encoded into the callee's path, so a
request cannot reach another path of an internal service than the one its route names."""

from __future__ import annotations

from typing import Annotated

from common.contracts import (
    ArtifactList,
    BatchPrediction,
    DatasetOut,
    DatasetPage,
    DatasetPreview,
    ModelDetail,
    ModelPage,
    Prediction,
    RunCreate,
    RunLogs,
    RunOut,
    RunPage,
    TokenCreated,
    TokenInfo,
)
from common.errors import NotFound
from common.ids import FileName, ResourceId
from common.ids import path_segment as seg
from common.params import Offset, page_limit
from fastapi import APIRouter, Query, Request, Response

from gateway.api.docs import DATASET_UPLOAD_BODY, EVENT_STREAM, PREDICT_BATCH_BODY, PREDICT_BODY, file_answer
from gateway.api.forward import forward
from gateway.auth import CurrentUser

router = APIRouter()

TopK = Annotated[
    int | None,
    Query(ge=1, le=1000, description="how many classes to return (default: min(5, classes)); more is a 422"),
]


def _clients(request: Request):
    return request.app.state.clients


# Data sets -----------------------------------------------------------------------------------------


@router.post(
    "/datasets",
    tags=["datasets"],
    status_code=201,
    response_model=DatasetOut,
    operation_id="upload_dataset",
    openapi_extra=DATASET_UPLOAD_BODY,
    responses={200: {"model": DatasetOut, "description": "the same content was uploaded before"}},
)
async def upload_dataset(request: Request, user: CurrentUser):
    """Upload a zip of class folders (images) or a CSV/TSV (texts). Answers 201 with the health report,
    200 when the same content was uploaded before (409 if under another name), 413 past the size cap,
    422 when rejected (the report is in `error.detail.report`)."""
    return await forward(request, _clients(request).datasets, "/datasets", owner=user, body=True)


@router.get("/datasets", tags=["datasets"], response_model=DatasetPage, operation_id="list_datasets")
async def list_datasets(request: Request, user: CurrentUser, limit: page_limit(100) = 20, offset: Offset = 0):
    """The caller's data sets, newest first."""
    return await forward(request, _clients(request).datasets, "/datasets", owner=user)


@router.get(
    "/datasets/limits", tags=["datasets"], response_model=dict[str, float], operation_id="get_dataset_limits"
)
async def dataset_limits(request: Request, user: CurrentUser):
    """The validation limits in force, by name (class counts, sizes, split fractions)."""
    return await forward(request, _clients(request).datasets, "/limits", owner=user)


@router.get(
    "/datasets/{dataset_id}", tags=["datasets"], response_model=DatasetOut, operation_id="get_dataset"
)
async def get_dataset(dataset_id: ResourceId, request: Request, user: CurrentUser):
    """One data set with its full health report."""
    return await forward(request, _clients(request).datasets, f"/datasets/{seg(dataset_id)}", owner=user)


@router.get(
    "/datasets/{dataset_id}/preview",
    tags=["datasets"],
    response_model=DatasetPreview,
    operation_id="preview_dataset",
)
async def preview_dataset(dataset_id: ResourceId, request: Request, user: CurrentUser):
    """Up to 8 thumbnails per class, or up to 5 sample rows per class."""
    return await forward(
        request, _clients(request).datasets, f"/datasets/{seg(dataset_id)}/preview", owner=user
    )


@router.get(
    "/datasets/{dataset_id}/download",
    tags=["datasets"],
    **file_answer("application/zip", "text/csv"),
    operation_id="download_dataset",
)
async def download_dataset(dataset_id: ResourceId, request: Request, user: CurrentUser):
    """The original upload, byte for byte."""
    return await forward(
        request, _clients(request).datasets, f"/datasets/{seg(dataset_id)}/download", owner=user
    )


@router.delete("/datasets/{dataset_id}", tags=["datasets"], status_code=204, operation_id="delete_dataset")
async def delete_dataset(dataset_id: ResourceId, request: Request, user: CurrentUser) -> Response:
    """Delete the data set and everything derived from it: its runs (a running one is stopped), their
    artifacts, checkpoints, exported models and data-issue reports, the models served from them (their
    tokens stop working at once), and its cached features. Safe to repeat: a delete interrupted midway
    is finished by the next one."""
    clients = _clients(request)
    # Runs first, while the data set still exists; then the data set (after which no new run can start
    # on it); then once more, for a run created in between.
    purged = await clients.trainer.delete_dataset_runs(owner=user, dataset_id=dataset_id)
    found = await clients.datasets.delete_dataset(owner=user, dataset_id=dataset_id)
    purged += await clients.trainer.delete_dataset_runs(owner=user, dataset_id=dataset_id)
    if not found and not purged:
        raise NotFound(
            f"no data set {dataset_id!r}; list yours with GET /api/v1/datasets", code="dataset_not_found"
        )
    return Response(status_code=204)


# Runs ----------------------------------------------------------------------------------------------


@router.post("/runs", tags=["runs"], status_code=201, response_model=RunOut, operation_id="create_run")
async def create_run(body: RunCreate, request: Request, user: CurrentUser):
    """Queue a training run on one of the caller's data sets; every hyperparameter is optional."""
    return await forward(request, _clients(request).trainer, "/runs", owner=user, json_body=body)


@router.get("/runs", tags=["runs"], response_model=RunPage, operation_id="list_runs")
async def list_runs(
    request: Request,
    user: CurrentUser,
    limit: page_limit(200) = 50,
    offset: Offset = 0,
    dataset_id: Annotated[ResourceId | None, Query(description="only runs on this data set")] = None,
):
    """The caller's runs, newest first."""
    return await forward(request, _clients(request).trainer, "/runs", owner=user)


@router.get("/runs/{run_id}", tags=["runs"], response_model=RunOut, operation_id="get_run")
async def get_run(run_id: ResourceId, request: Request, user: CurrentUser):
    """Status (queued, running, succeeded, failed, cancelled), progress, metrics, validation accuracy."""
    return await forward(request, _clients(request).trainer, f"/runs/{seg(run_id)}", owner=user)


@router.get("/runs/{run_id}/events", tags=["runs"], operation_id="stream_run_events", **EVENT_STREAM)
async def stream_run_events(
    run_id: ResourceId,
    request: Request,
    user: CurrentUser,
    after: Annotated[int | None, Query(ge=0, le=2**31 - 1, description="resume after this event id")] = None,
):
    """The run's live events as Server-Sent Events (``text/event-stream``): state changes, phase
    changes, progress counters, epoch metrics and log lines, each with an ``id``. Replays what came
    before (after ``Last-Event-ID`` or ``after`` when given), then follows the run live, and ends
    after its terminal state. ``data`` is a ``RunEventOut``."""
    return await forward(request, _clients(request).trainer, f"/runs/{seg(run_id)}/events", owner=user)


@router.get("/runs/{run_id}/logs", tags=["runs"], response_model=RunLogs, operation_id="get_run_logs")
async def get_run_logs(
    run_id: ResourceId,
    request: Request,
    user: CurrentUser,
    tail: Annotated[int, Query(ge=1, le=1000, description="how many of the last lines")] = 100,
):
    """The last ``tail`` lines the run's training process logged, oldest first."""
    return await forward(request, _clients(request).trainer, f"/runs/{seg(run_id)}/logs", owner=user)


@router.post("/runs/{run_id}/cancel", tags=["runs"], response_model=RunOut, operation_id="cancel_run")
async def cancel_run(run_id: ResourceId, request: Request, user: CurrentUser):
    """Stop a queued or running run."""
    return await forward(request, _clients(request).trainer, f"/runs/{seg(run_id)}/cancel", owner=user)


@router.get(
    "/runs/{run_id}/artifacts", tags=["runs"], response_model=ArtifactList, operation_id="list_artifacts"
)
async def list_artifacts(run_id: ResourceId, request: Request, user: CurrentUser):
    """What the run wrote: model.onnx, model.pt, model_card.json, curves, grids, metrics."""
    return await forward(request, _clients(request).trainer, f"/runs/{seg(run_id)}/artifacts", owner=user)


@router.get(
    "/runs/{run_id}/artifacts/{name}",
    tags=["runs"],
    **file_answer("application/octet-stream", "application/json", "image/png"),
    operation_id="get_artifact",
)
async def get_artifact(run_id: ResourceId, name: FileName, request: Request, user: CurrentUser):
    """One artifact's bytes."""
    return await forward(
        request, _clients(request).trainer, f"/runs/{seg(run_id)}/artifacts/{seg(name)}", owner=user
    )


# Models and prediction -----------------------------------------------------------------------------


@router.get("/models", tags=["models"], response_model=ModelPage, operation_id="list_models")
async def list_models(request: Request, user: CurrentUser, limit: page_limit(200) = 50, offset: Offset = 0):
    """The caller's models, newest first."""
    return await forward(request, _clients(request).inference, "/models", owner=user)


@router.get("/models/{model_id}", tags=["models"], response_model=ModelDetail, operation_id="get_model")
async def get_model(model_id: ResourceId, request: Request, user: CurrentUser):
    """One model with its model card."""
    return await forward(request, _clients(request).inference, f"/models/{seg(model_id)}", owner=user)


@router.delete("/models/{model_id}", tags=["models"], status_code=204, operation_id="delete_model")
async def delete_model(model_id: ResourceId, request: Request, user: CurrentUser) -> None:
    """Delete the model; its tokens stop working at once."""
    return await forward(request, _clients(request).inference, f"/models/{seg(model_id)}", owner=user)


@router.post(
    "/models/{model_id}/tokens",
    tags=["models"],
    status_code=201,
    response_model=TokenCreated,
    operation_id="create_model_token",
)
async def create_token(model_id: ResourceId, request: Request, user: CurrentUser):
    """A new model token for predictions. It is shown once; only its hash is kept."""
    return await forward(request, _clients(request).inference, f"/models/{seg(model_id)}/tokens", owner=user)


@router.get(
    "/models/{model_id}/tokens",
    tags=["models"],
    response_model=list[TokenInfo],
    operation_id="list_model_tokens",
)
async def list_tokens(model_id: ResourceId, request: Request, user: CurrentUser):
    """The model's tokens, by display prefix (never the token itself)."""
    return await forward(request, _clients(request).inference, f"/models/{seg(model_id)}/tokens", owner=user)


@router.delete(
    "/models/{model_id}/tokens/{token_id}",
    tags=["models"],
    status_code=204,
    operation_id="revoke_model_token",
)
async def revoke_token(
    model_id: ResourceId, token_id: ResourceId, request: Request, user: CurrentUser
) -> None:
    """Revoke a token: predictions with it answer 401 from now on."""
    path = f"/models/{seg(model_id)}/tokens/{seg(token_id)}"
    return await forward(request, _clients(request).inference, path, owner=user)


@router.post(
    "/predict",
    tags=["predict"],
    response_model=Prediction | BatchPrediction,
    operation_id="predict",
    openapi_extra=PREDICT_BODY,
)
async def predict(request: Request, top_k: TopK = None):
    """`Authorization: Bearer <model token>`. An image model: multipart `file`, or the raw image as the
    body. A text model: JSON `{"text": "..."}` (one prediction) or `{"texts": [...]}` (one per text)."""
    return await request.app.state.predictions.forward(request, "/predict")


@router.post(
    "/predict/batch",
    tags=["predict"],
    response_model=BatchPrediction,
    operation_id="predict_batch",
    openapi_extra=PREDICT_BATCH_BODY,
)
async def predict_batch(request: Request, top_k: TopK = None):
    """`Authorization: Bearer <model token>`. An image model: multipart with one or more `files`. A text
    model: a CSV with a `text` column in, a CSV of the top-k labels and probabilities out."""
    return await request.app.state.predictions.forward(request, "/predict/batch")
