"""The hot path through the real app: cross-request batching, admission control, the token cache.

Determinism comes from the real model-run executor: a test occupies its one thread with a gate, so
admitted requests are provably waiting while the next ones arrive, then opens the gate.
"""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import asynccontextmanager

import pytest
from common.contracts import INTERNAL_TOKEN_HEADER
from inference.testing import (
    BLUE,
    GREEN,
    RED,
    bearer,
    image_bytes,
    metric_value,
    new_token,
    owner_headers,
    register,
    serve,
    write_artifacts,
)


async def predict(client, token: str, colour):
    return await client.post(
        "/predict?top_k=1", content=image_bytes(colour), headers=bearer(token) | {"content-type": "image/png"}
    )


@asynccontextmanager
async def model_runs_blocked(client):
    """Occupy the single model-run thread until the block exits."""
    gate = threading.Event()
    blocker = client.app.state.server.run_executor.submit(gate.wait)
    try:
        yield
    finally:
        gate.set()
        await asyncio.wrap_future(blocker)


async def until(condition, *, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def scrape(client) -> str:
    response = await client.get("/metrics", headers={"Authorization": "Bearer test-internal-token"})
    assert response.status_code == 200, response.text
    return response.text


async def test_concurrent_requests_share_one_model_run_and_each_gets_its_own_answer(client, served_model):
    token = served_model["token"]["token"]
    server = client.app.state.server
    colours = [RED, GREEN, BLUE, RED, BLUE]
    async with model_runs_blocked(client):
        first = asyncio.create_task(predict(client, token, colours[0]))
        await until(lambda: server.queued() == 0 and server.admission.in_flight == 1)  # first run submitted
        rest = [asyncio.create_task(predict(client, token, c)) for c in colours[1:]]
        await until(lambda: server.queued() == 4)
    responses = await asyncio.gather(first, *rest)
    assert [r.json()["top_k"][0]["label"] for r in responses] == ["red", "green", "blue", "red", "blue"]
    text = await scrape(client)
    # Registration's warm-up runs outside the batcher: the two batches are [first] and the other four.
    assert metric_value(text, "trainyard_inference_batch_rows_count") == 2
    assert metric_value(text, "trainyard_inference_batch_rows_sum") == 5


async def test_overload_answers_503_with_retry_after_while_admitted_requests_complete(
    sqlite_url, local_store, tmp_path
):
    async with serve(
        database_url=sqlite_url, store=local_store, tmp_path=tmp_path, max_in_flight=2, retry_after_s=3
    ) as client:
        model = await register(client, write_artifacts(local_store, run_id="r-1"))
        token = (await new_token(client, model["id"]))["token"]
        server = client.app.state.server
        async with model_runs_blocked(client):
            admitted = [asyncio.create_task(predict(client, token, c)) for c in (RED, BLUE)]
            await until(lambda: server.admission.in_flight == 2)
            refused = await asyncio.gather(*(predict(client, token, GREEN) for _ in range(3)))
            assert not any(task.done() for task in admitted)
        done = await asyncio.gather(*admitted)
        text = await scrape(client)
    assert [r.status_code for r in refused] == [503, 503, 503]
    assert all(r.headers["retry-after"] == "3" for r in refused)
    assert refused[0].json()["error"]["code"] == "overloaded"
    assert [r.status_code for r in done] == [200, 200]
    assert [r.json()["top_k"][0]["label"] for r in done] == ["red", "blue"]
    assert metric_value(text, 'trainyard_inference_rejected_requests_total{reason="in_flight"}') == 3


async def test_per_model_queue_bound_refuses_only_that_model(sqlite_url, local_store, tmp_path):
    async with serve(
        database_url=sqlite_url, store=local_store, tmp_path=tmp_path, max_queue_per_model=1
    ) as client:
        busy = await register(client, write_artifacts(local_store, run_id="r-busy"))
        idle = await register(client, write_artifacts(local_store, run_id="r-idle"))
        busy_token = (await new_token(client, busy["id"]))["token"]
        idle_token = (await new_token(client, idle["id"]))["token"]
        async with model_runs_blocked(client):
            admitted = asyncio.create_task(predict(client, busy_token, RED))
            await until(lambda: client.app.state.server.admission.admitted(busy["id"]) == 1)
            refused = await predict(client, busy_token, RED)
            other = asyncio.create_task(predict(client, idle_token, BLUE))
            await until(lambda: client.app.state.server.admission.admitted(idle["id"]) == 1)
        assert refused.status_code == 503
        assert "retry-after" in refused.headers
        assert (await admitted).status_code == 200
        assert (await other).json()["top_k"][0]["label"] == "blue"


async def test_a_request_whose_expected_wait_is_too_long_is_refused(sqlite_url, local_store, tmp_path):
    async with serve(
        database_url=sqlite_url, store=local_store, tmp_path=tmp_path, max_queue_wait_ms=300
    ) as client:
        model = await register(client, write_artifacts(local_store, run_id="r-1"))
        token = (await new_token(client, model["id"]))["token"]
        admission = client.app.state.server.admission
        admission.cost(model["id"]).record_run(1, 0.2)  # as if each row had taken 200 ms to run
        async with model_runs_blocked(client):
            admitted = asyncio.create_task(predict(client, token, RED))  # expects 200 ms: admitted
            await until(lambda: admission.in_flight == 1)
            refused = await predict(client, token, RED)  # would wait about 400 ms behind it
        assert (await admitted).status_code == 200
    assert refused.status_code == 503
    assert refused.json()["error"]["detail"]["reason"] == "expected_wait"
    assert "retry-after" in refused.headers


async def test_revocation_through_this_replica_takes_effect_at_once(client, served_model):
    model_id, token = served_model["model"]["id"], served_model["token"]
    assert (await predict(client, token["token"], RED)).status_code == 200  # now cached
    revoke = await client.delete(f"/models/{model_id}/tokens/{token['id']}", headers=owner_headers())
    assert revoke.status_code == 204
    assert (await predict(client, token["token"], RED)).status_code == 401


async def test_revocation_on_another_replica_takes_effect_within_one_second(
    sqlite_url, local_store, tmp_path
):
    """Two replicas on one database: B revokes, A (which cached the token) refuses it within 1 s."""
    async with (
        serve(database_url=sqlite_url, store=local_store, tmp_path=tmp_path) as replica_a,
        serve(database_url=sqlite_url, store=local_store, tmp_path=tmp_path) as replica_b,
    ):
        model = await register(replica_a, write_artifacts(local_store, run_id="r-1"))
        token = await new_token(replica_a, model["id"])
        for _ in range(3):
            assert (await predict(replica_a, token["token"], RED)).status_code == 200
        hits = metric_value(
            await scrape(replica_a), 'trainyard_inference_token_cache_lookups_total{result="hit"}'
        )
        assert hits >= 2  # the token was served from memory, not looked up each time

        revoke = await replica_b.delete(
            f"/models/{model['id']}/tokens/{token['id']}", headers=owner_headers()
        )
        assert revoke.status_code == 204
        revoked_at = time.monotonic()
        while (status := (await predict(replica_a, token["token"], RED)).status_code) == 200:
            assert time.monotonic() - revoked_at < 1.0, "revoked token still accepted after 1 s"
            await asyncio.sleep(0.02)
    assert status == 401


async def test_creating_a_token_warms_an_evicted_model(client, served_model):
    model_id = served_model["model"]["id"]
    server = client.app.state.server
    server.evict(model_id)
    await new_token(client, model_id)
    await until(lambda: model_id in server.sessions)


async def test_a_restarted_service_warms_the_models_that_have_live_tokens(sqlite_url, local_store, tmp_path):
    async with serve(database_url=sqlite_url, store=local_store, tmp_path=tmp_path) as first:
        served = await register(first, write_artifacts(local_store, run_id="r-served"))
        await new_token(first, served["id"])
        unserved = await register(first, write_artifacts(local_store, run_id="r-no-token"))
    async with serve(database_url=sqlite_url, store=local_store, tmp_path=tmp_path) as restarted:
        sessions = restarted.app.state.server.sessions
        await until(lambda: served["id"] in sessions)
        assert unserved["id"] not in sessions


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Bearer test-internal-token"}, 200),
        ({INTERNAL_TOKEN_HEADER: "test-internal-token"}, 200),
    ],
)
async def test_metrics_answer_only_the_operator(client, headers, status):
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 200:
        assert "trainyard_http_request_duration_seconds" in response.text
        assert "trainyard_inference_queue_depth" in response.text


@pytest.mark.parametrize(("inline_run_ms", "thread_runs"), [(10.0, 0), (0.0, 3)])
async def test_a_cheap_model_runs_on_the_event_loop_when_no_other_run_is_busy(
    sqlite_url, local_store, tmp_path, inline_run_ms, thread_runs
):
    """Once a model's runs are measured cheaper than ``inline_run_ms``, they skip the thread hand-off."""
    async with serve(
        database_url=sqlite_url, store=local_store, tmp_path=tmp_path, inline_run_ms=inline_run_ms
    ) as client:
        model = await register(client, write_artifacts(local_store, run_id="r-1"))
        token = (await new_token(client, model["id"]))["token"]
        assert (await predict(client, token, RED)).status_code == 200  # first run: measured on the thread
        executor = client.app.state.server.run_executor
        submitted = []
        real_submit = executor.submit
        executor.submit = lambda fn, *args, **kwargs: submitted.append(fn) or real_submit(fn, *args, **kwargs)
        cost = client.app.state.server.admission.cost(model["id"])
        answers = []
        for colour in (RED, GREEN, BLUE):
            cost.run_s = 0.0001  # as measured when idle (a loaded test machine may measure slower)
            answers.append(await predict(client, token, colour))
    assert [a.json()["top_k"][0]["label"] for a in answers] == ["red", "green", "blue"]
    assert len(submitted) == thread_runs
