"""Dependencies of this service beyond ``common.deps``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from inference.predict.sessions import OnnxSessionCache


def get_session_cache(request: Request) -> OnnxSessionCache:
    return request.app.state.sessions


SessionCacheDep = Annotated[OnnxSessionCache, Depends(get_session_cache)]
