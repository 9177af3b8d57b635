"""Runs each attempt as a batch/v1 Job through the official ``kubernetes`` client.

Jobs of this trainer instance are followed with a list-then-watch on their labels in a background
thread (the client is blocking); ``poll`` reports the ones that completed, failed or vanished.
Every other client call runs in ``asyncio.to_thread``, off the event loop. Any instance can stop
any attempt (``cancel`` deletes its Job by name), and a restarted instance adopts its Jobs by name.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from trainer.executors.base import Finished, Launch
from trainer.executors.kubernetes import manifests
from trainer.executors.kubernetes.manifests import JobTemplate
from trainer.executors.kubernetes.settings import KubernetesSettings
from trainer.settings import Settings

log = logging.getLogger(__name__)

WATCH_TIMEOUT_S = 30


def load_api_client(k8s: KubernetesSettings) -> client.ApiClient:
    """In a cluster (and no kubeconfig named) the pod's service account; otherwise a kubeconfig."""
    configuration = client.Configuration()
    if k8s.kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(
            config_file=str(k8s.kubeconfig) if k8s.kubeconfig else None,
            context=k8s.context,
            client_configuration=configuration,
        )
    return client.ApiClient(configuration)


def job_template(settings: Settings) -> JobTemplate:
    """The operator's Job template; the pod's own environment names no object store and holds no store
    credential (a training pod reaches objects through the trainer with its run token)."""
    base_env = {
        "TRAINYARD_LOG_JSON": str(settings.log_json).lower(),
        "TRAINYARD_ENVIRONMENT": settings.environment,
    }
    return settings.kubernetes.job_template(base_env=base_env, active_deadline_s=settings.run_deadline_s)


@dataclass(frozen=True)
class JobState:
    """What the watch last saw of a Job: ended or not, and how."""

    ended: bool
    succeeded: bool = False
    reason: str = ""


def job_state(event_type: str, job: client.V1Job) -> JobState:
    if event_type == "DELETED":
        return JobState(ended=True, reason="its Job was deleted")
    for condition in (job.status and job.status.conditions) or []:
        if condition.status != "True":
            continue
        if condition.type == "Complete":
            return JobState(ended=True, succeeded=True, reason="Job complete")
        if condition.type == "Failed":
            why = condition.reason or "Failed"
            return JobState(
                ended=True,
                reason=f"Job failed: {why}" + (f" ({condition.message})" if condition.message else ""),
            )
    return JobState(ended=False)


class KubernetesExecutor:
    name = "kubernetes"
    cancels_across_instances = True

    def __init__(self, *, settings: Settings, api_client: client.ApiClient | None = None) -> None:
        self.k8s = settings.kubernetes
        self.namespace = self.k8s.namespace
        self.instance_id = settings.instance_id
        self.template = job_template(settings)
        self.api = api_client or load_api_client(self.k8s)
        self.batch = client.BatchV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self._tracked: dict[str, int] = {}
        self._states: dict[str, JobState] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch: watch.Watch | None = None
        self._thread: threading.Thread | None = None
        self._wake: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def on_attempt_end(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    # -- the watch -------------------------------------------------------------------------------

    def _ensure_watching(self) -> None:
        self._loop = asyncio.get_running_loop()  # called from launch and adopt, on the event loop
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch_forever, name="job-watch", daemon=True)
            self._thread.start()

    def _observe(self, event_type: str, job: client.V1Job) -> None:
        state = job_state(event_type, job)
        with self._lock:
            self._states[job.metadata.name] = state
        # From the watch thread: the dispatcher settles the Job's run now rather than on its next tick.
        if state.ended and self._wake is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake)

    def _watch_forever(self) -> None:
        selector = manifests.instance_selector(self.instance_id)
        while not self._stop.is_set():
            try:
                jobs = self.batch.list_namespaced_job(self.namespace, label_selector=selector)
                for job in jobs.items:
                    self._observe("MODIFIED", job)
                self._watch = watch.Watch()
                for event in self._watch.stream(
                    self.batch.list_namespaced_job,
                    self.namespace,
                    label_selector=selector,
                    resource_version=jobs.metadata.resource_version,
                    timeout_seconds=WATCH_TIMEOUT_S,
                ):
                    if self._stop.is_set():
                        break
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        self._observe(event["type"], event["object"])
            except Exception:  # noqa: BLE001 - the watch is re-established from a fresh list
                if self._stop.is_set():
                    return
                log.exception("watching training Jobs failed; listing them again")
                self._stop.wait(1.0)

    # -- the executor interface --------------------------------------------------------------------

    def free_slots(self) -> int:
        return self.k8s.max_jobs - len(self._tracked)

    def tracked(self) -> dict[str, int]:
        return dict(self._tracked)

    async def launch(self, launch: Launch) -> str:
        self._ensure_watching()
        spec, attempt = launch.spec, launch.attempt
        job = manifests.build_job(self.template, spec=spec, attempt=attempt, instance_id=self.instance_id)
        name = job["metadata"]["name"]
        created = await asyncio.to_thread(self.batch.create_namespaced_job, self.namespace, job)
        secret = manifests.build_token_secret(
            namespace=self.namespace,
            run_id=spec.run_id,
            attempt=attempt,
            instance_id=self.instance_id,
            token=launch.token,
            job_uid=created.metadata.uid,
        )
        try:
            await asyncio.to_thread(self.core.create_namespaced_secret, self.namespace, secret)
        except Exception:
            await self._delete_job(name)
            raise
        self._tracked[spec.run_id] = attempt
        log.info("run %s attempt %d started as Job %s", spec.run_id, attempt, name)
        return name

    async def poll(self) -> list[Finished]:
        finished = []
        for run_id, attempt in list(self._tracked.items()):
            name = manifests.job_name(run_id, attempt)
            with self._lock:
                state = self._states.get(name)
            if state is None or not state.ended:
                continue
            code, tail = await asyncio.to_thread(self._pod_outcome, name)
            if state.succeeded:
                code = 0
            finished.append(Finished(run_id, attempt, code, state.reason, tail))
            del self._tracked[run_id]
            with self._lock:
                self._states.pop(name, None)
        return finished

    def _pod_outcome(self, job: str) -> tuple[int | None, str]:
        """The exit code and the last lines of the Job's pod, when it is still there to ask."""
        try:
            pods = self.core.list_namespaced_pod(self.namespace, label_selector=f"job-name={job}").items
            if not pods:
                return None, ""
            pod = pods[-1]
            code = None
            for status in (pod.status and pod.status.container_statuses) or []:
                if status.state and status.state.terminated:
                    code = status.state.terminated.exit_code
            tail = self.core.read_namespaced_pod_log(
                pod.metadata.name, self.namespace, container=manifests.CONTAINER, tail_lines=20
            )
            return code, tail or ""
        except ApiException as e:
            log.warning("could not read the pod of Job %s: %s", job, e.reason)
            return None, ""

    async def cancel(self, run_id: str, attempt: int, ref: str | None) -> None:
        await self._delete_job(ref or manifests.job_name(run_id, attempt))
        if self._tracked.get(run_id) == attempt:
            del self._tracked[run_id]

    async def _delete_job(self, name: str) -> None:
        try:
            await asyncio.to_thread(
                self.batch.delete_namespaced_job, name, self.namespace, propagation_policy="Background"
            )
        except ApiException as e:
            if e.status != 404:
                raise

    async def forget(self, run_id: str) -> None:
        """Delete the Jobs of every attempt of the run, whichever instance launched them (their pods go
        with them, and their token Secrets, which the Jobs own)."""
        selector = manifests.run_selector(run_id)
        jobs = await asyncio.to_thread(
            self.batch.list_namespaced_job, self.namespace, label_selector=selector
        )
        for job in jobs.items:
            await self._delete_job(job.metadata.name)
        self._tracked.pop(run_id, None)

    async def adopt(self, run_id: str, attempt: int, ref: str | None) -> bool:
        self._ensure_watching()
        name = ref or manifests.job_name(run_id, attempt)
        try:
            job = await asyncio.to_thread(self.batch.read_namespaced_job, name, self.namespace)
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        self._observe("MODIFIED", job)
        self._tracked[run_id] = attempt
        return True

    async def shutdown(self) -> None:
        """Jobs keep running: the next instance with this id adopts them."""
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()
        await asyncio.to_thread(self.api.close)
