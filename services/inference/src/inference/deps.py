"""Dependencies of this service beyond ``common.deps``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from inference.predict.auth import TokenCache
from inference.predict.server import ModelServer


def get_model_server(request: Request) -> ModelServer:
    return request.app.state.server


ModelServerDep = Annotated[ModelServer, Depends(get_model_server)]


def get_token_cache(request: Request) -> TokenCache:
    return request.app.state.token_cache


TokenCacheDep = Annotated[TokenCache, Depends(get_token_cache)]
