"""The single-page app, served beside /api with an index.html fallback for client-side routes."""

from __future__ import annotations

from pathlib import Path

from common.errors import NotFound
from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/{path:path}")
async def spa(path: str) -> FileResponse:
    if path == "api" or path.startswith("api/"):
        raise NotFound(f"no API endpoint /{path}; see /docs")
    candidate = (STATIC / path).resolve()
    if path and candidate.is_file() and candidate.is_relative_to(STATIC):
        return FileResponse(candidate)
    return FileResponse(STATIC / "index.html")
