"""The token cache on its own, with a clock the test moves."""

from __future__ import annotations

from common.contracts import ModelCard
from inference.predict.auth import AuthorizedModel, TokenCache
from inference.testing import model_card


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def model(model_id: str) -> AuthorizedModel:
    return AuthorizedModel(
        model_id=model_id,
        onnx_key=f"runs/{model_id}/model.onnx",
        card=ModelCard.model_validate(model_card(run_id="r")),
    )


def test_an_entry_is_trusted_for_less_than_the_ttl_counted_from_before_the_lookup():
    clock = Clock()
    cache = TokenCache(ttl_s=1.0, capacity=10, clock=clock)
    looked_up_at = clock.now
    clock.now += 0.3  # the database answered 300 ms later
    cache.put("h", model("m"), looked_up_at=looked_up_at)
    clock.now = looked_up_at + 0.99
    assert cache.get("h") is not None
    clock.now = looked_up_at + 1.0
    assert cache.get("h") is None


def test_forgetting_a_model_drops_every_token_of_it():
    cache = TokenCache(ttl_s=1.0, capacity=10, clock=Clock())
    for token_hash, model_id in (("a", "m1"), ("b", "m1"), ("c", "m2")):
        cache.put(token_hash, model(model_id), looked_up_at=100.0)
    cache.forget_model("m1")
    assert (cache.get("a"), cache.get("b")) == (None, None)
    assert cache.get("c") is not None


def test_the_least_recently_used_entry_goes_first_when_full():
    cache = TokenCache(ttl_s=1.0, capacity=2, clock=Clock())
    cache.put("a", model("m1"), looked_up_at=100.0)
    cache.put("b", model("m2"), looked_up_at=100.0)
    cache.get("a")
    cache.put("c", model("m3"), looked_up_at=100.0)
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None


def test_a_zero_ttl_caches_nothing():
    cache = TokenCache(ttl_s=0.0, capacity=2, clock=Clock())
    cache.put("a", model("m1"), looked_up_at=100.0)
    assert cache.get("a") is None
