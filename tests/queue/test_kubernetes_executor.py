"""The Kubernetes executor with the real ``kubernetes`` client against a fake API server on loopback
(real HTTP, the real API paths, watch included; no real cluster runs here), driven by a real
dispatcher over a real database: create -> running -> succeeded / failed, cancel, adopt after restart."""

from __future__ import annotations

import asyncio
import base64

import pytest
from trainer.dispatcher import RunDispatcher
from trainer.executors.kubernetes.executor import KubernetesExecutor
from trainer.executors.kubernetes.manifests import job_name
from trainer.runs import purge, service
from trainer.runs import repository as repo
from trainer.testing.fake_kubernetes import fake_kubernetes

from tests.queue.test_settling import write_model
from tests.queue.world import open_world

NS = "training"


@pytest.fixture
async def world(tmp_path):
    async with open_world(f"sqlite+aiosqlite:///{tmp_path / 'trainer.db'}", tmp_path) as world:
        yield world


@pytest.fixture
def cluster(tmp_path):
    with fake_kubernetes() as server:
        server.kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        yield server


def k8s_dispatcher(cluster, world, *, instance_id: str = "trainer-0", **overrides) -> RunDispatcher:
    settings = world.settings(
        executor="kubernetes",
        instance_id=instance_id,
        kubernetes={
            "namespace": NS,
            "image": "registry.local/trainer:1",
            "kubeconfig": cluster.kubeconfig,
            "gpus": 1,
        },
        **overrides,
    )
    dispatcher = RunDispatcher(
        settings=settings,
        sessionmaker=world.maker,
        store=world.store,
        executor=KubernetesExecutor(settings=settings),
        inference=world.inference,
    )
    world.dispatchers.append(dispatcher)
    return dispatcher


async def until(condition, *, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def launched(world, cluster, dispatcher) -> tuple[str, str]:
    (run_id,) = await world.add_runs(1)
    await dispatcher.tick()
    name = job_name(run_id, 1)
    assert cluster.cluster.get("jobs", NS, name) is not None
    return run_id, name


async def settled(world, dispatcher, run_id: str, status: str):
    async def done() -> bool:
        await dispatcher.tick()
        return (await world.run(run_id)).status == status

    await until(done)
    return await world.run(run_id)


async def test_a_run_becomes_a_job_with_its_labels_resources_and_its_own_token(cluster, world):
    dispatcher = k8s_dispatcher(cluster, world)
    run_id, name = await launched(world, cluster, dispatcher)
    job = cluster.cluster.get("jobs", NS, name)
    assert job["metadata"]["labels"]["trainyard.dev/run-id"] == run_id
    assert job["spec"]["backoffLimit"] == 0
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    secret = cluster.cluster.get("secrets", NS, name)
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert secret["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    async with world.maker() as session:
        attempt = await repo.get_attempt(session, run_id=run_id, attempt=1)
    assert attempt.token_hash == repo.hash_token(token)
    assert (await world.run(run_id)).executor_ref == name


async def test_a_job_that_completes_settles_the_run_as_succeeded(cluster, world):
    dispatcher = k8s_dispatcher(cluster, world)
    run_id, name = await launched(world, cluster, dispatcher)
    cluster.cluster.start(name, namespace=NS)
    await dispatcher.tick()
    assert (await world.run(run_id)).status == "running"
    write_model(world, run_id)  # what the pod's training would have stored
    cluster.cluster.succeed(name, namespace=NS, log="done")
    run = await settled(world, dispatcher, run_id, "succeeded")
    assert run.model_id is not None
    assert ("GET", "watch jobs") in cluster.cluster.requests


async def test_a_failed_job_is_requeued_then_fails_with_its_reason_and_log(cluster, world):
    dispatcher = k8s_dispatcher(cluster, world, max_attempts=2)
    run_id, name = await launched(world, cluster, dispatcher)
    cluster.cluster.start(name, namespace=NS)
    cluster.cluster.fail(name, namespace=NS, exit_code=137, reason="PodFailurePolicy", log="OOMKilled")
    run = await settled(world, dispatcher, run_id, "running")

    async def second_job() -> bool:
        await dispatcher.tick()
        return cluster.cluster.get("jobs", NS, job_name(run_id, 2)) is not None

    await until(second_job)
    run = await world.run(run_id)
    assert run.attempts == 2
    cluster.cluster.fail(job_name(run_id, 2), namespace=NS, exit_code=None, reason="DeadlineExceeded")
    run = await settled(world, dispatcher, run_id, "failed")
    assert "DeadlineExceeded" in run.error and "retry the run" in run.error


async def test_cancelling_a_run_deletes_its_job(cluster, world):
    dispatcher = k8s_dispatcher(cluster, world)
    run_id, name = await launched(world, cluster, dispatcher)
    cluster.cluster.start(name, namespace=NS)
    async with world.maker() as session:
        await service.cancel_run(session, owner="alice", run_id=run_id)
        await session.commit()
    await dispatcher.tick()
    assert cluster.cluster.get("jobs", NS, name) is None
    assert cluster.cluster.get("secrets", NS, name) is None
    assert (await world.run(run_id)).status == "cancelled"


async def test_deleting_a_run_deletes_the_jobs_of_all_its_attempts_from_any_instance(cluster, world):
    dispatcher = k8s_dispatcher(cluster, world, max_attempts=2)
    run_id, other = await world.add_runs(2)
    await dispatcher.tick()
    first = job_name(run_id, 1)
    cluster.cluster.start(first, namespace=NS)
    cluster.cluster.fail(first, namespace=NS, exit_code=137, reason="PodFailurePolicy", log="OOMKilled")

    async def second_job() -> bool:
        await dispatcher.tick()
        return cluster.cluster.get("jobs", NS, job_name(run_id, 2)) is not None

    await until(second_job)
    assert cluster.cluster.get("jobs", NS, first) is not None  # an ended Job stays until its TTL
    api_replica = k8s_dispatcher(cluster, world, instance_id="trainer-api").executor
    async with world.maker() as session:
        run = await repo.get_run(session, run_id=run_id)
        await purge.delete_runs(
            session,
            runs=[run],
            store=world.store,
            inference=world.inference,
            executor=api_replica,
            reason="deleted by the user",
        )
    for attempt in (1, 2):
        assert cluster.cluster.get("jobs", NS, job_name(run_id, attempt)) is None
        assert cluster.cluster.get("secrets", NS, job_name(run_id, attempt)) is None
    assert cluster.cluster.get("jobs", NS, job_name(other, 1)) is not None

    async def let_go() -> bool:
        await dispatcher.tick()
        return run_id not in dispatcher.executor.tracked()

    await until(let_go)
    await api_replica.forget(run_id)  # nothing left: no error


async def test_a_restarted_trainer_adopts_its_running_job(cluster, world):
    before = k8s_dispatcher(cluster, world)
    run_id, name = await launched(world, cluster, before)
    cluster.cluster.start(name, namespace=NS)
    await before.executor.shutdown()

    after = k8s_dispatcher(cluster, world)
    await after.recover()
    assert after.executor.tracked() == {run_id: 1}
    assert (await world.run(run_id)).status == "running"
    write_model(world, run_id)
    cluster.cluster.succeed(name, namespace=NS)
    run = await settled(world, after, run_id, "succeeded")
    assert run.attempts == 1


async def test_a_restarted_trainer_requeues_a_run_whose_job_is_gone(cluster, world):
    before = k8s_dispatcher(cluster, world)
    run_id, name = await launched(world, cluster, before)
    await before.executor.shutdown()
    cluster.cluster.delete("jobs", NS, name)
    after = k8s_dispatcher(cluster, world)
    await after.recover()
    assert (await world.run(run_id)).status == "queued"


async def test_an_invalid_job_is_refused_by_the_api_and_the_run_says_why(cluster, world):
    dispatcher = k8s_dispatcher(cluster, world, max_attempts=1)
    dispatcher.executor.template = dispatcher.executor.template.__class__(
        **{**dispatcher.executor.template.__dict__, "image_pull_policy": 42}
    )
    (run_id,) = await world.add_runs(1)
    await dispatcher.tick()
    run = await settled(world, dispatcher, run_id, "failed")
    assert "could not start the attempt" in run.error
