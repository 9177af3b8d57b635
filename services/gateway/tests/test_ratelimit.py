"""The token bucket on its own, with a clock the test moves."""

from __future__ import annotations

from gateway.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_refills_at_the_per_minute_rate():
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    assert [limiter.hit("k", "a", per_minute=60) for _ in range(60)] == [0] * 60
    assert limiter.hit("k", "a", per_minute=60) == 1  # one a second comes back
    clock.now += 1.0
    assert limiter.hit("k", "a", per_minute=60) == 0
    assert limiter.hit("k", "a", per_minute=60) == 1


def test_retry_after_is_the_wait_until_one_request_is_back():
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limiter.hit("k", "a", per_minute=2)
    limiter.hit("k", "a", per_minute=2)
    assert limiter.hit("k", "a", per_minute=2) == 30


def test_keys_and_scopes_have_separate_buckets():
    limiter = RateLimiter(clock=Clock())
    assert limiter.hit("k", "a", per_minute=1) == 0
    assert limiter.hit("k", "a", per_minute=1) > 0
    assert limiter.hit("k", "b", per_minute=1) == 0
    assert limiter.hit("ip", "a", per_minute=1) == 0


def test_old_keys_are_forgotten_past_the_cap():
    limiter = RateLimiter(max_keys=2, clock=Clock())
    for key in ("a", "b", "c"):
        limiter.hit("k", key, per_minute=1)
    assert limiter.hit("k", "a", per_minute=1) == 0  # "a" was dropped, so it starts full again
