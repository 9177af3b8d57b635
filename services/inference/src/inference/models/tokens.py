"""Model tokens: ``tym_`` + 43 url-safe characters. Only the SHA-256 of a token is stored."""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_PREFIX = "tym_"
DISPLAY_PREFIX_CHARS = 8
_TOKEN_SHAPE = re.compile(r"^tym_[A-Za-z0-9_-]{16,128}$")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Hex SHA-256. The token has 256 random bits, so an unsalted fast hash is enough to make a leaked
    table useless, and it keeps lookup a single indexed equality on the hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    return token[:DISPLAY_PREFIX_CHARS]


def looks_like_token(value: str) -> bool:
    return bool(_TOKEN_SHAPE.match(value))
