"""Prediction is authenticated by a model token alone: ``Authorization: Bearer tym_...``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from common.contracts import ModelCard
from fastapi import Depends, Request

from inference.models import repository
from inference.models.tokens import TOKEN_PREFIX, hash_token, looks_like_token
from inference.predict.errors import MalformedModelToken, MissingModelToken, UnknownModelToken

EXPECTED_FORM = f"Authorization: Bearer {TOKEN_PREFIX}<token>"


@dataclass(frozen=True)
class AuthorizedModel:
    """What a prediction needs to know about the model the token belongs to."""

    model_id: str
    onnx_key: str
    card: ModelCard


def bearer_token(authorization: str | None) -> str:
    """The token in an Authorization header value; raises, naming the expected form, when absent or odd."""
    if authorization is None or not authorization.strip():
        raise MissingModelToken(f"missing model token; send the header '{EXPECTED_FORM}'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise MalformedModelToken(f"malformed Authorization header; expected '{EXPECTED_FORM}'")
    if not looks_like_token(token):
        raise MalformedModelToken(
            f"malformed model token: model tokens start with {TOKEN_PREFIX!r}; expected '{EXPECTED_FORM}'"
        )
    return token


async def authorized_model(request: Request) -> AuthorizedModel:
    """The model a live token grants. Uses its own short session so no database connection is held
    while the image is read and the model runs."""
    token = bearer_token(request.headers.get("authorization"))
    # A lookup by hash, not a comparison of secrets: timing reveals nothing about the stored hashes.
    async with request.app.state.sessionmaker() as session:
        found = await repository.find_live_token(session, token_hash=hash_token(token))
    if found is None:
        raise UnknownModelToken()
    _, model = found
    return AuthorizedModel(
        model_id=model.id, onnx_key=model.onnx_key, card=ModelCard.model_validate(model.card)
    )


AuthorizedModelDep = Annotated[AuthorizedModel, Depends(authorized_model)]
