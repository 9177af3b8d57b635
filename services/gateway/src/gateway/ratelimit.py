"""Token-bucket rate limits: per credential (API key, model token, session) and per client IP.

Buckets live in the gateway process, so with N gateway replicas a client gets up to N times the limit;
the limits protect the services from one noisy client, they are not a billing meter.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.settings import Settings

SESSION_COOKIE = "trainyard_session"


class RateLimiter:
    """Each key may spend ``per_minute`` requests at once and regains them at ``per_minute / 60`` a second."""

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    def hit(self, scope: str, key: str, *, per_minute: int) -> int:
        """Spend one request; answers 0 when allowed, else the seconds to wait before retrying."""
        if per_minute <= 0:
            return 0
        now = self._clock()
        rate = per_minute / 60.0
        tokens, last = self._buckets.pop((scope, key), (float(per_minute), now))
        tokens = min(float(per_minute), tokens + (now - last) * rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[(scope, key)] = (tokens, now)
        while len(self._buckets) > self._max_keys:  # forget the least recently seen
            self._buckets.popitem(last=False)
        return 0 if allowed else max(1, math.ceil((1.0 - tokens) / rate))


def credential_key(headers: Headers) -> str | None:
    """What identifies the caller's credential, without a database read: a hash of the bearer token
    (API key or model token) or of the session cookie."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return "b:" + hashlib.sha256(auth[7:].strip().encode()).hexdigest()[:32]
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return "s:" + hashlib.sha256(value.encode()).hexdigest()[:32]
    return None


class RateLimitMiddleware:
    """Applies the per-IP and per-credential limits to /api requests; answers 429 with Retry-After."""

    def __init__(self, app: ASGIApp, *, settings: Settings, limiter: RateLimiter) -> None:
        self.app = app
        self.settings = settings
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return
        ip = (scope.get("client") or ("unknown", 0))[0]
        wait = self.limiter.hit("ip", ip, per_minute=self.settings.ip_rate_limit_per_minute)
        who = "this address"
        per_key = self.settings.key_rate_limit_per_minute
        if not wait and per_key > 0 and (key := credential_key(Headers(scope=scope))):
            wait = self.limiter.hit("key", key, per_minute=per_key)
            who = "this key"
        if wait:
            body = {
                "error": {
                    "code": "rate_limited",
                    "message": f"too many requests from {who}; retry in {wait} s",
                    "detail": {"retry_after_s": wait},
                }
            }
            response = JSONResponse(body, status_code=429, headers={"Retry-After": str(wait)})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
