"""Owner-scoped model management; the gateway forwards ``/api/models/...`` here."""

from __future__ import annotations

from typing import Annotated

from common.contracts import ModelOut, ModelRegister
from common.deps import InternalDep, OwnerDep, SessionDep, StoreDep
from common.ids import ResourceId
from common.params import Offset
from fastapi import APIRouter, Query, Response, status

from inference.deps import ModelServerDep, TokenCacheDep
from inference.models import service
from inference.models.schemas import ModelDetail, ModelPage, TokenCreated, TokenInfo

router = APIRouter(prefix="/models", tags=["models"], dependencies=[InternalDep])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ModelOut, "description": "this run was already registered"}},
)
async def register_model(
    body: ModelRegister,
    response: Response,
    session: SessionDep,
    store: StoreDep,
    server: ModelServerDep,
    owner: OwnerDep,
) -> ModelOut:
    """Register a finished run's ``model.onnx`` and model card. Repeating it for the same run returns
    the existing model with 200."""
    model, created = await service.register_model(session, store=store, server=server, owner=owner, body=body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return service.model_out(model)


@router.get("")
async def list_models(
    session: SessionDep,
    owner: OwnerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> ModelPage:
    return await service.list_models(session, owner=owner, limit=limit, offset=offset)


@router.get("/{model_id}")
async def get_model(model_id: ResourceId, session: SessionDep, owner: OwnerDep) -> ModelDetail:
    return service.model_detail(await service.get_model(session, owner=owner, model_id=model_id))


@router.delete("/{model_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_model(
    model_id: ResourceId, session: SessionDep, server: ModelServerDep, tokens: TokenCacheDep, owner: OwnerDep
) -> None:
    """Delete the model; its tokens stop working at once."""
    await service.delete_model(session, server=server, tokens=tokens, owner=owner, model_id=model_id)


@router.post("/{model_id}/tokens", status_code=status.HTTP_201_CREATED)
async def create_token(
    model_id: ResourceId, session: SessionDep, server: ModelServerDep, owner: OwnerDep
) -> TokenCreated:
    """A new bearer token for ``POST /api/predict``. The token is in this response only: store it.
    The model's session is warmed in the background, so the token's first prediction is fast."""
    return await service.create_token(session, server=server, owner=owner, model_id=model_id)


@router.get("/{model_id}/tokens")
async def list_tokens(model_id: ResourceId, session: SessionDep, owner: OwnerDep) -> list[TokenInfo]:
    return list(await service.list_tokens(session, owner=owner, model_id=model_id))


@router.delete("/{model_id}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(
    model_id: ResourceId, token_id: ResourceId, session: SessionDep, tokens: TokenCacheDep, owner: OwnerDep
) -> None:
    """The token stops working at once on this replica, and within a second on the others."""
    await service.revoke_token(session, tokens=tokens, owner=owner, model_id=model_id, token_id=token_id)
