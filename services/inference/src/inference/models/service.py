"""Register models from a finished run's artifacts; list, show, delete them; issue and revoke tokens."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from common.contracts import ImageCardPreprocessing, ModelCard, ModelOut, ModelRegister
from common.store import ObjectNotFound, ObjectStore, validate_key
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inference.models import repository
from inference.models.errors import InvalidModelArtifacts, ModelNotFound, TokenNotFound
from inference.models.models import Model, ModelToken
from inference.models.schemas import ModelDetail, ModelPage, TokenCreated, TokenInfo
from inference.models.tokens import display_prefix, hash_token, new_token
from inference.predict.auth import TokenCache, authorized
from inference.predict.server import ModelServer
from inference.predict.sessions import ModelLoadError


def now() -> datetime:
    return datetime.now(UTC)


def model_out(model: Model) -> ModelOut:
    return ModelOut.model_validate(model, from_attributes=True)


def model_detail(model: Model) -> ModelDetail:
    return ModelDetail(**model_out(model).model_dump(), card=ModelCard.model_validate(model.card))


def check_card(card: ModelCard, *, card_key: str, run_id: str) -> None:
    problems = []
    if not card.classes or len(set(card.classes)) != len(card.classes):
        problems.append("classes must be a non-empty list of distinct labels")
    prep = card.preprocessing
    if isinstance(prep, ImageCardPreprocessing):
        if len(prep.mean) != 3 or len(prep.std) != 3:
            problems.append("mean and std must have three values (R, G, B)")
        if any(s <= 0 for s in prep.std):
            problems.append("std values must be positive")
        if prep.input_size < 1 or prep.resize < prep.input_size:
            problems.append("resize must be at least input_size (the crop is taken from the resized image)")
    if card.run_id != run_id:
        problems.append(f"the card belongs to run {card.run_id!r}, not {run_id!r}")
    if problems:
        raise InvalidModelArtifacts(f"model card {card_key!r} is unusable: " + "; ".join(problems))


def read_card(store: ObjectStore, *, body: ModelRegister) -> ModelCard:
    """Blocking: the run's model card, after checking that both artifacts exist in the store."""
    for field, key in (("card_key", body.card_key), ("onnx_key", body.onnx_key)):
        try:
            validate_key(key)
        except ValueError as e:
            raise InvalidModelArtifacts(f"{field} {key!r} is not a valid object key") from e
    if not store.exists(body.onnx_key):
        raise InvalidModelArtifacts(
            f"no ONNX file at onnx_key {body.onnx_key!r}; export the run's model before registering it"
        )
    try:
        raw = store.get_bytes(body.card_key)
    except ObjectNotFound as e:
        raise InvalidModelArtifacts(
            f"no model card at card_key {body.card_key!r}; write it beside model.onnx before registering"
        ) from e
    try:
        card = ModelCard.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as e:
        raise InvalidModelArtifacts(f"model card {body.card_key!r} is not a valid ModelCard: {e}") from e
    check_card(card, card_key=body.card_key, run_id=body.run_id)
    return card


async def register_model(
    session: AsyncSession, *, store: ObjectStore, server: ModelServer, owner: str, body: ModelRegister
) -> tuple[Model, bool]:
    """(model, created). Idempotent per (owner, run_id): a repeat returns the existing model unchanged.

    The ONNX file is loaded and run once here, which both proves it serves and warms the session cache.
    """
    if (existing := await repository.get_model_for_run(session, owner=owner, run_id=body.run_id)) is not None:
        return existing, False
    card = await asyncio.to_thread(read_card, store, body=body)
    model_id = uuid.uuid4().hex
    try:
        await server.sessions.get(model_id=model_id, onnx_key=body.onnx_key, card=card)
    except ModelLoadError as e:
        raise InvalidModelArtifacts(f"cannot serve {body.onnx_key!r}: {e}") from e
    model = Model(
        id=model_id,
        owner=owner,
        run_id=body.run_id,
        name=body.name,
        onnx_key=body.onnx_key,
        card_key=body.card_key,
        classes=list(card.classes),
        card=card.model_dump(mode="json"),
        created_at=now(),
    )
    try:
        return await repository.add_model(session, model), True
    except IntegrityError:
        # A concurrent registration of the same run won the insert: answer with its model.
        server.evict(model_id)
        await session.rollback()
        existing = await repository.get_model_for_run(session, owner=owner, run_id=body.run_id)
        if existing is None:
            raise
        return existing, False


async def get_model(session: AsyncSession, *, owner: str, model_id: str) -> Model:
    model = await repository.get_owned_model(session, owner=owner, model_id=model_id)
    if model is None:
        raise ModelNotFound(model_id)
    return model


async def list_models(session: AsyncSession, *, owner: str, limit: int, offset: int) -> ModelPage:
    rows, total = await repository.list_owned_models(session, owner=owner, limit=limit, offset=offset)
    return ModelPage(items=[model_out(m) for m in rows], total=total)


async def delete_model(
    session: AsyncSession, *, server: ModelServer, tokens: TokenCache, owner: str, model_id: str
) -> None:
    """Removes the model and its tokens (so they stop authenticating). The run's artifacts stay in the store:
    they belong to the trainer."""
    model = await get_model(session, owner=owner, model_id=model_id)
    await repository.delete_model(session, model)
    server.evict(model_id)
    tokens.forget_model(model_id)


async def create_token(
    session: AsyncSession, *, server: ModelServer, owner: str, model_id: str
) -> TokenCreated:
    model = await get_model(session, owner=owner, model_id=model_id)
    server.warm(authorized(model))
    plaintext = new_token()
    token = await repository.add_token(
        session,
        ModelToken(
            id=uuid.uuid4().hex,
            model_id=model.id,
            owner=owner,
            token_hash=hash_token(plaintext),
            prefix=display_prefix(plaintext),
            created_at=now(),
        ),
    )
    return TokenCreated(
        id=token.id, token=plaintext, model_id=model.id, prefix=token.prefix, created_at=token.created_at
    )


def token_info(token: ModelToken) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        model_id=token.model_id,
        prefix=token.prefix,
        created_at=token.created_at,
        revoked=token.revoked_at is not None,
        revoked_at=token.revoked_at,
    )


async def list_tokens(session: AsyncSession, *, owner: str, model_id: str) -> Sequence[TokenInfo]:
    model = await get_model(session, owner=owner, model_id=model_id)
    return [token_info(t) for t in await repository.list_model_tokens(session, model_id=model.id)]


async def revoke_token(
    session: AsyncSession, *, tokens: TokenCache, owner: str, model_id: str, token_id: str
) -> None:
    """Idempotent: revoking a revoked token succeeds and keeps the first revocation time."""
    model = await get_model(session, owner=owner, model_id=model_id)
    token = await repository.get_model_token(session, model_id=model.id, token_id=token_id)
    if token is None:
        raise TokenNotFound(token_id)
    repository.revoke(token, at=now())
    tokens.forget_token(token.token_hash)
