"""Who is calling. Embedded mode has one user; accounts (issue 7) replace this dependency, nothing else."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request


def current_user(request: Request) -> str:
    return request.app.state.settings.local_user


CurrentUser = Annotated[str, Depends(current_user)]
