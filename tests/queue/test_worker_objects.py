"""A worker holds no store credentials: it reaches objects through the trainer with its attempt's token,
and that token opens only its own run's objects, its data set's, and the shared pretrained cache. On a
LocalStore and on S3 (moto server), with the trainer API on real uvicorn and real worker processes."""

from __future__ import annotations

import httpx
import pytest
from common.testing.texts import TEXT_DATASET_ID, TINY, write_text_dataset
from trainer.runs import repository as repo

from tests.queue.world import new_run, open_world, ticking

SECRET = b"another user's bytes"


@pytest.fixture(params=["local", "s3"])
async def world(request, tmp_path):
    store = request.getfixturevalue("s3_store") if request.param == "s3" else None
    async with open_world(f"sqlite+aiosqlite:///{tmp_path / 'trainer.db'}", tmp_path, store=store) as world:
        yield world


def everything(world) -> dict[str, bytes]:
    return {key: world.store.get_bytes(key) for key in world.store.list("")}


async def claim_two(world) -> tuple[tuple[str, str], tuple[str, str]]:
    """Run A on data set d1 and run B on d2, both running, each with its own token."""
    runs = [new_run(config={}, dataset_id="d1", age_s=2), new_run(config={}, dataset_id="d2", age_s=1)]
    async with world.maker() as session:
        session.add_all(runs)
        await session.commit()
    claimed = []
    for _ in runs:
        async with world.maker() as session:
            claim = await repo.claim_next_run(
                session, executor="local", instance_id="a", lease_s=30, token_ttl_s=3600
            )
            await session.commit()
        claimed.append((claim.run.id, claim.token))
    return claimed[0], claimed[1]


@pytest.mark.parametrize("world", ["s3"], indirect=True)
async def test_a_real_run_trains_to_success_through_its_token(world):
    """The real entrypoint reads its data set and writes its artifacts and model through the trainer;
    nothing lands outside its run's prefix (its data set's feature cache is the only other place).
    On S3 here; every end-to-end test (tests/e2e) trains real runs the same way on a LocalStore."""
    write_text_dataset(world.store, TEXT_DATASET_ID)
    run = new_run(
        config={"task": "text", **TINY, "model": "fasttext", "epochs": 3}, dataset_id=TEXT_DATASET_ID
    )
    run.task = "text"
    async with world.maker() as session:
        session.add(run)
        await session.commit()
    before = set(world.store.list(""))
    dispatcher = world.dispatcher(
        worker_command=["-m", "trainer.training"], worker_threads=1, lease_s=60, heartbeat_s=1
    )
    async with ticking(dispatcher):
        (done,) = await world.wait([run.id], lambda r: r.status in ("succeeded", "failed"), within=180)
    assert done.status == "succeeded", done.error
    assert done.model_id
    written = set(world.store.list("")) - before
    assert {f"runs/{run.id}/model.onnx", f"runs/{run.id}/model_card.json"} <= written
    assert all(k.startswith((f"runs/{run.id}/", f"features/{TEXT_DATASET_ID}/")) for k in written), written


# (method, key, body): run A's token against what is not its own; every one is refused.
FOREIGN = [
    pytest.param("GET", "runs/{b}/model.onnx", None, id="read-run-b-artifact"),
    pytest.param("HEAD", "runs/{b}/model.onnx", None, id="stat-run-b-artifact"),
    pytest.param("PUT", "runs/{b}/model.onnx", b"evil", id="overwrite-run-b-artifact"),
    pytest.param("PUT", "runs/{b}/new.bin", b"evil", id="add-to-run-b"),
    pytest.param("GET", "datasets/d2/manifest.json", None, id="read-other-dataset"),
    pytest.param("PUT", "datasets/d2/manifest.json", b"evil", id="write-other-dataset"),
    pytest.param("GET", "features/d2/cache.npz", None, id="read-other-feature-cache"),
    pytest.param("PUT", "features/d2/cache.npz", b"evil", id="write-other-feature-cache"),
    pytest.param("PUT", "datasets/d1/manifest.json", b"evil", id="write-own-dataset"),
    pytest.param("PUT", "pretrained/weights.pth", b"evil", id="write-pretrained-weights"),
    pytest.param("GET", "secrets/key.txt", None, id="read-arbitrary-key"),
    pytest.param("PUT", "secrets/key.txt", b"evil", id="write-arbitrary-key"),
    pytest.param("GET", "runs/{a}/../{b}/model.onnx", None, id="dot-dot-into-run-b"),
    pytest.param("GET", "runs/{a}/%2E%2E/{b}/model.onnx", None, id="encoded-dot-dot"),
    pytest.param("PUT", "runs/{a}/%2E%2E/{b}/model.onnx", b"evil", id="encoded-dot-dot-write"),
    pytest.param("LIST", "runs/", None, id="list-all-runs"),
    pytest.param("LIST", "datasets/d2/", None, id="list-other-dataset"),
    pytest.param("LIST", "", None, id="list-everything"),
]


async def send(world, run_id: str, token: str, method: str, key: str, body: bytes | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=world.trainer_url) as http:
        if method == "LIST":
            return await http.get(f"/internal/runs/{run_id}/objects", params={"prefix": key}, headers=headers)
        return await http.request(
            method, f"/internal/runs/{run_id}/objects/{key}", content=body, headers=headers
        )


async def test_a_token_is_refused_everything_not_its_runs(world):
    (a, token_a), (b, _) = await claim_two(world)
    world.store.put_bytes(f"runs/{b}/model.onnx", SECRET)
    world.store.put_bytes("datasets/d2/manifest.json", SECRET)
    world.store.put_bytes("datasets/d1/manifest.json", b"{}")
    world.store.put_bytes("features/d2/cache.npz", SECRET)
    world.store.put_bytes("secrets/key.txt", SECRET)
    before = everything(world)
    for case in FOREIGN:
        method, key, body = case.values
        response = await send(world, a, token_a, method, key.format(a=a, b=b), body)
        assert response.status_code in (400, 403, 404, 422), (case.id, response.text)
        assert SECRET not in response.content, case.id
        assert everything(world) == before, case.id  # nothing written, nothing changed


async def test_a_token_reaches_its_own_objects(world):
    (a, token_a), (_b, token_b) = await claim_two(world)
    world.store.put_bytes("datasets/d1/manifest.json", b"manifest of d1")
    world.store.put_bytes("pretrained/weights.pth", b"weights")
    assert (await send(world, a, token_a, "PUT", f"runs/{a}/checkpoint.pt", b"ckpt")).status_code == 204
    assert world.store.get_bytes(f"runs/{a}/checkpoint.pt") == b"ckpt"
    assert (await send(world, a, token_a, "PUT", "features/d1/f.npz", b"feat")).status_code == 204
    got = await send(world, a, token_a, "GET", "datasets/d1/manifest.json", None)
    assert (got.status_code, got.content) == (200, b"manifest of d1")
    assert (await send(world, a, token_a, "GET", "pretrained/weights.pth", None)).content == b"weights"
    listed = await send(world, a, token_a, "LIST", f"runs/{a}/", None)
    assert listed.json() == {"keys": [f"runs/{a}/checkpoint.pt"]}
    assert (await send(world, a, token_a, "GET", f"runs/{a}/missing", None)).status_code == 404
    # The shared ONNX cache is create-only: run B cannot replace the graph run A exported.
    assert (await send(world, a, token_a, "PUT", "pretrained/onnx/b.onnx", b"graph")).status_code == 204
    kept = await send(world, _b, token_b, "PUT", "pretrained/onnx/b.onnx", b"other graph")
    assert kept.status_code == 204 and kept.headers["X-Trainyard-Kept"] == "existing"
    assert world.store.get_bytes("pretrained/onnx/b.onnx") == b"graph"


@pytest.mark.parametrize("token", ["", "made-up", "other-run"])
async def test_a_token_of_no_attempt_of_the_run_gets_401(world, token):
    (a, token_a), (_b, token_b) = await claim_two(world)
    token = token_b if token == "other-run" else token
    world.store.put_bytes(f"runs/{a}/x", b"x")
    assert (await send(world, a, token, "GET", f"runs/{a}/x", None)).status_code == 401
    assert (await send(world, a, token, "PUT", f"runs/{a}/y", b"y")).status_code == 401
    assert not world.store.exists(f"runs/{a}/y")


async def test_a_superseded_attempt_can_no_longer_write(world):
    (a, first), _ = await claim_two(world)
    async with world.maker() as session:
        assert await repo.transition(session, run_id=a, attempt=1, status="queued")
        await session.commit()
    refused = await send(world, a, first, "PUT", f"runs/{a}/checkpoint.pt", b"stale")
    assert refused.status_code == 409
    assert not world.store.exists(f"runs/{a}/checkpoint.pt")


OBJECT_LIMIT = 1000


async def in_chunks(body: bytes):
    """No Content-Length: the trainer counts while reading."""
    for start in range(0, len(body), 300):
        yield body[start : start + 300]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_object_over_the_limit_is_a_413_and_nothing_is_written(tmp_path, declared):
    async with open_world(
        f"sqlite+aiosqlite:///{tmp_path / 'trainer.db'}", tmp_path, max_object_bytes=OBJECT_LIMIT
    ) as world:
        (a, token), _ = await claim_two(world)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=world.trainer_url) as http:

            async def put(key: str, body: bytes) -> httpx.Response:
                content = body if declared else in_chunks(body)
                return await http.put(f"/internal/runs/{a}/objects/{key}", content=content, headers=headers)

            whole = await put(f"runs/{a}/at-limit.bin", b"x" * OBJECT_LIMIT)
            over = await put(f"runs/{a}/over.bin", b"x" * (OBJECT_LIMIT + 1))
        assert whole.status_code == 204
        assert world.store.get_bytes(f"runs/{a}/at-limit.bin") == b"x" * OBJECT_LIMIT
        assert over.status_code == 413, over.text
        assert f"at most {OBJECT_LIMIT} bytes" in over.json()["error"]["message"]
        assert not world.store.exists(f"runs/{a}/over.bin")
