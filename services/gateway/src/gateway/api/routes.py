"""The public API. Each route names what it does and passes it to the service that owns it.

Ids and names are validated here (``common.params``) and percent-encoded into the callee's path, so a
request cannot reach another path of an internal service than the one its route names."""

from __future__ import annotations

from common.ids import FileName, ResourceId
from common.ids import path_segment as seg
from common.params import Offset, page_limit
from fastapi import APIRouter, Request

from gateway.api.forward import forward
from gateway.auth import CurrentUser

router = APIRouter()


def _clients(request: Request):
    return request.app.state.clients


# Data sets -----------------------------------------------------------------------------------------


@router.post("/datasets", tags=["datasets"], status_code=201)
async def upload_dataset(request: Request, user: CurrentUser):
    """Multipart: `file` (zip of class folders, or CSV/TSV), `name`, `description`, optional `kind`,
    `val_fraction`, `seed`, `text_column`, `label_column`. Answers 201 with the health report,
    200 when the same content was uploaded before, 413 past the size cap, 422 when rejected."""
    return await forward(request, _clients(request).datasets, "/datasets", owner=user, body=True)


@router.get("/datasets", tags=["datasets"])
async def list_datasets(request: Request, user: CurrentUser, limit: page_limit(100) = 20, offset: Offset = 0):
    return await forward(request, _clients(request).datasets, "/datasets", owner=user)


@router.get("/datasets/limits", tags=["datasets"])
async def dataset_limits(request: Request, user: CurrentUser):
    """The validation limits in force."""
    return await forward(request, _clients(request).datasets, "/limits", owner=user)


@router.get("/datasets/{dataset_id}", tags=["datasets"])
async def get_dataset(dataset_id: ResourceId, request: Request, user: CurrentUser):
    return await forward(request, _clients(request).datasets, f"/datasets/{seg(dataset_id)}", owner=user)


@router.get("/datasets/{dataset_id}/preview", tags=["datasets"])
async def preview_dataset(dataset_id: ResourceId, request: Request, user: CurrentUser):
    return await forward(
        request, _clients(request).datasets, f"/datasets/{seg(dataset_id)}/preview", owner=user
    )


@router.get("/datasets/{dataset_id}/download", tags=["datasets"])
async def download_dataset(dataset_id: ResourceId, request: Request, user: CurrentUser):
    return await forward(
        request, _clients(request).datasets, f"/datasets/{seg(dataset_id)}/download", owner=user
    )


@router.delete("/datasets/{dataset_id}", tags=["datasets"], status_code=204)
async def delete_dataset(dataset_id: ResourceId, request: Request, user: CurrentUser):
    return await forward(request, _clients(request).datasets, f"/datasets/{seg(dataset_id)}", owner=user)


# Runs ----------------------------------------------------------------------------------------------


@router.post("/runs", tags=["runs"], status_code=201)
async def create_run(request: Request, user: CurrentUser):
    """JSON `{"dataset_id": ..., "config": {...}}`; every hyperparameter is optional."""
    return await forward(request, _clients(request).trainer, "/runs", owner=user, body=True)


@router.get("/runs", tags=["runs"])
async def list_runs(
    request: Request,
    user: CurrentUser,
    limit: page_limit(200) = 50,
    offset: Offset = 0,
    dataset_id: ResourceId | None = None,
):
    return await forward(request, _clients(request).trainer, "/runs", owner=user)


@router.get("/runs/{run_id}", tags=["runs"])
async def get_run(run_id: ResourceId, request: Request, user: CurrentUser):
    """Status (queued, running, succeeded, failed, cancelled), progress, metrics, validation accuracy."""
    return await forward(request, _clients(request).trainer, f"/runs/{seg(run_id)}", owner=user)


@router.post("/runs/{run_id}/cancel", tags=["runs"])
async def cancel_run(run_id: ResourceId, request: Request, user: CurrentUser):
    return await forward(request, _clients(request).trainer, f"/runs/{seg(run_id)}/cancel", owner=user)


@router.get("/runs/{run_id}/artifacts", tags=["runs"])
async def list_artifacts(run_id: ResourceId, request: Request, user: CurrentUser):
    return await forward(request, _clients(request).trainer, f"/runs/{seg(run_id)}/artifacts", owner=user)


@router.get("/runs/{run_id}/artifacts/{name}", tags=["runs"])
async def get_artifact(run_id: ResourceId, name: FileName, request: Request, user: CurrentUser):
    return await forward(
        request, _clients(request).trainer, f"/runs/{seg(run_id)}/artifacts/{seg(name)}", owner=user
    )


# Models and prediction -----------------------------------------------------------------------------


@router.get("/models", tags=["models"])
async def list_models(request: Request, user: CurrentUser, limit: page_limit(200) = 50, offset: Offset = 0):
    return await forward(request, _clients(request).inference, "/models", owner=user)


@router.get("/models/{model_id}", tags=["models"])
async def get_model(model_id: ResourceId, request: Request, user: CurrentUser):
    return await forward(request, _clients(request).inference, f"/models/{seg(model_id)}", owner=user)


@router.delete("/models/{model_id}", tags=["models"], status_code=204)
async def delete_model(model_id: ResourceId, request: Request, user: CurrentUser):
    return await forward(request, _clients(request).inference, f"/models/{seg(model_id)}", owner=user)


@router.post("/models/{model_id}/tokens", tags=["models"], status_code=201)
async def create_token(model_id: ResourceId, request: Request, user: CurrentUser):
    """A new model token for predictions. It is shown once; only its hash is kept."""
    return await forward(request, _clients(request).inference, f"/models/{seg(model_id)}/tokens", owner=user)


@router.get("/models/{model_id}/tokens", tags=["models"])
async def list_tokens(model_id: ResourceId, request: Request, user: CurrentUser):
    return await forward(request, _clients(request).inference, f"/models/{seg(model_id)}/tokens", owner=user)


@router.delete("/models/{model_id}/tokens/{token_id}", tags=["models"], status_code=204)
async def revoke_token(model_id: ResourceId, token_id: ResourceId, request: Request, user: CurrentUser):
    path = f"/models/{seg(model_id)}/tokens/{seg(token_id)}"
    return await forward(request, _clients(request).inference, path, owner=user)


@router.post("/predict", tags=["predict"])
async def predict(request: Request):
    """`Authorization: Bearer <model token>`; body: multipart `file` or a raw image. `?top_k=5`."""
    return await forward(request, _clients(request).inference, "/predict", owner=None, body=True)


@router.post("/predict/batch", tags=["predict"])
async def predict_batch(request: Request):
    """`Authorization: Bearer <model token>`; multipart with one or more `files`. `?top_k=5`."""
    return await forward(request, _clients(request).inference, "/predict/batch", owner=None, body=True)
