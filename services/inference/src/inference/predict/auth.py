"""Prediction is authenticated by a model token alone: ``Authorization: Bearer tym_...``.

Token -> model lookups are cached in memory for at most ``token_cache_ttl_s`` (<= 1 s), so a hot
token costs no database round trip, and a revocation or deletion made anywhere (another replica
included) takes effect within that time; made through this process, it takes effect at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from common.contracts import ModelCard
from fastapi import Depends, Request

from inference.models import repository
from inference.models.models import Model
from inference.models.tokens import TOKEN_PREFIX, hash_token, looks_like_token
from inference.predict.errors import MalformedModelToken, MissingModelToken, UnknownModelToken

EXPECTED_FORM = f"Authorization: Bearer {TOKEN_PREFIX}<token>"


@dataclass(frozen=True)
class AuthorizedModel:
    """What a prediction needs to know about the model the token belongs to."""

    model_id: str
    onnx_key: str
    card: ModelCard


def authorized(row: Model) -> AuthorizedModel:
    return AuthorizedModel(model_id=row.id, onnx_key=row.onnx_key, card=ModelCard.model_validate(row.card))


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


class TokenCache:
    """token hash -> AuthorizedModel, each entry trusted for ``ttl_s``; LRU-bounded. Unknown tokens are
    not cached (nothing to revoke, and a spray of random tokens cannot fill it)."""

    def __init__(
        self,
        *,
        ttl_s: float,
        capacity: int,
        clock: Callable[[], float] = time.monotonic,
        on_lookup: Callable[[bool], None] | None = None,
    ) -> None:
        self._ttl_s = ttl_s
        self._capacity = capacity
        self._clock = clock
        self._on_lookup = on_lookup or (lambda hit: None)
        self._entries: OrderedDict[str, tuple[float, AuthorizedModel]] = OrderedDict()

    def get(self, token_hash: str) -> AuthorizedModel | None:
        entry = self._entries.get(token_hash)
        if entry is not None and self._clock() - entry[0] < self._ttl_s:
            self._entries.move_to_end(token_hash)
            self._on_lookup(True)
            return entry[1]
        self._entries.pop(token_hash, None)
        self._on_lookup(False)
        return None

    def put(self, token_hash: str, model: AuthorizedModel, *, looked_up_at: float) -> None:
        """``looked_up_at`` is the clock before the database was asked, so the entry cannot outlive
        a revocation committed while the lookup was in flight by more than the TTL."""
        if self._ttl_s <= 0:
            return
        self._entries[token_hash] = (looked_up_at, model)
        self._entries.move_to_end(token_hash)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def now(self) -> float:
        return self._clock()

    def forget_token(self, token_hash: str) -> None:
        self._entries.pop(token_hash, None)

    def forget_model(self, model_id: str) -> None:
        for key in [k for k, (_, m) in self._entries.items() if m.model_id == model_id]:
            del self._entries[key]


async def authorized_model(request: Request) -> AuthorizedModel:
    """The model a live token grants. On a cache miss, uses its own short session so no database
    connection is held while the input is read and the model runs."""
    token = bearer_token(request.headers.get("authorization"))
    token_hash = hash_token(token)
    cache: TokenCache = request.app.state.token_cache
    if (cached := cache.get(token_hash)) is not None:
        return cached
    looked_up_at = cache.now()
    # A lookup by hash, not a comparison of secrets: timing reveals nothing about the stored hashes.
    async with request.app.state.sessionmaker() as session:
        found = await repository.find_live_token(session, token_hash=token_hash)
    if found is None:
        raise UnknownModelToken()
    model = authorized(found[1])
    cache.put(token_hash, model, looked_up_at=looked_up_at)
    return model


AuthorizedModelDep = Annotated[AuthorizedModel, Depends(authorized_model)]
