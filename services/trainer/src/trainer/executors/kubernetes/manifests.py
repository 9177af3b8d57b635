"""Pure builders of the Kubernetes objects of one attempt: typed inputs in, plain manifests out.

No client, no I/O: ``tests`` check them table-driven and validate them with kubernetes-validate.
The queue owns retries, so a Job never retries a pod (``backoffLimit: 0``); a pod disrupted by the
cluster (eviction, preemption) is ignored by the pod failure policy and replaced, not counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from common.contracts import TrainingSpec

CONTAINER = "trainer"
COMPONENT = "training"
LABEL_RUN = "trainyard.dev/run-id"
LABEL_ATTEMPT = "trainyard.dev/attempt"
LABEL_INSTANCE = "trainyard.dev/instance"
TOKEN_KEY = "token"
RUN_AS_USER = 10001  # the images' non-root user (services/*/Dockerfile)
# The entrypoint's exits that retrying the pod cannot fix: 1 = training failed (it reported why),
# 75 = the attempt was superseded.
FINAL_EXIT_CODES = (1, 75)


@dataclass(frozen=True)
class SecretEnv:
    """An environment variable read from a key of a Secret (credentials never sit in the manifest)."""

    name: str
    secret: str
    key: str


@dataclass(frozen=True)
class Toleration:
    key: str
    operator: str = "Exists"
    value: str | None = None
    effect: str | None = None


@dataclass(frozen=True)
class Resources:
    cpu_request: str = "1"
    memory_request: str = "4Gi"
    cpu_limit: str | None = None
    memory_limit: str | None = "8Gi"
    gpus: int = 0


@dataclass(frozen=True)
class DataVolume:
    """A PersistentVolumeClaim of prepared large data sets (ImageNet), mounted read-only at
    ``mount_path`` (the worker's ``imagenet_data_root``) into the pods of runs that read from it."""

    claim_name: str
    mount_path: str


@dataclass(frozen=True)
class JobTemplate:
    """What an operator chooses once for every training Job."""

    namespace: str
    image: str
    command: tuple[str, ...] = ("python", "-m", "trainer.training")
    image_pull_policy: str = "IfNotPresent"
    service_account: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    secret_env: tuple[SecretEnv, ...] = ()
    resources: Resources = Resources()
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    active_deadline_s: int = 24 * 3600
    ttl_after_finished_s: int = 3600
    data_volume: DataVolume | None = None


def label_value(text: str) -> str:
    """A valid label value (63 characters of [A-Za-z0-9._-], alphanumeric at both ends)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63].strip("-._")
    return cleaned or "unknown"


def job_name(run_id: str, attempt: int) -> str:
    """``trainyard-<run id>-<attempt>``: a DNS-1123 name, unique per attempt, known without a lookup."""
    return f"trainyard-{label_value(run_id).lower()[:40]}-{attempt}"


def run_labels(*, run_id: str, attempt: int, instance_id: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "trainyard",
        "app.kubernetes.io/component": COMPONENT,
        LABEL_RUN: label_value(run_id),
        LABEL_ATTEMPT: str(attempt),
        LABEL_INSTANCE: label_value(instance_id),
    }


def instance_selector(instance_id: str) -> str:
    return f"app.kubernetes.io/component={COMPONENT},{LABEL_INSTANCE}={label_value(instance_id)}"


def run_selector(run_id: str) -> str:
    """Every attempt's Job of one run, whichever instance launched it."""
    return f"app.kubernetes.io/component={COMPONENT},{LABEL_RUN}={label_value(run_id)}"


def _resources(resources: Resources) -> dict:
    requests = {"cpu": resources.cpu_request, "memory": resources.memory_request}
    limits: dict[str, str] = {}
    if resources.cpu_limit:
        limits["cpu"] = resources.cpu_limit
    if resources.memory_limit:
        limits["memory"] = resources.memory_limit
    if resources.gpus:
        # Extended resources are set as limits (requests default to them and must not differ).
        limits["nvidia.com/gpu"] = str(resources.gpus)
    return {"requests": requests, **({"limits": limits} if limits else {})}


def _toleration(t: Toleration) -> dict:
    out = {"key": t.key, "operator": t.operator}
    if t.value is not None:
        out["value"] = t.value
    if t.effect is not None:
        out["effect"] = t.effect
    return out


def _reads_large_data(spec: TrainingSpec) -> bool:
    return spec.config.get("task") == "imagenet"


def build_job(template: JobTemplate, *, spec: TrainingSpec, attempt: int, instance_id: str) -> dict:
    """The batch/v1 Job of one attempt. Its token comes from the Secret ``job_name`` (see
    ``build_token_secret``); the spec travels on the command line, so the Job is self-contained.

    An ``imagenet`` run gets the GPUs its config asks for (``config.gpus``, else the template's) and
    the template's data volume, read-only; other runs get neither volume nor a GPU count of their own."""
    name = job_name(spec.run_id, attempt)
    resources = template.resources
    volume_mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict] = [{"name": "tmp", "emptyDir": {}}]
    if _reads_large_data(spec):
        gpus = spec.config.get("gpus")
        if isinstance(gpus, int) and gpus > 0:
            resources = replace(resources, gpus=gpus)
        if template.data_volume is not None:
            volume_mounts.append(
                {"name": "data", "mountPath": template.data_volume.mount_path, "readOnly": True}
            )
            volumes.append(
                {
                    "name": "data",
                    "persistentVolumeClaim": {"claimName": template.data_volume.claim_name, "readOnly": True},
                }
            )
    labels = run_labels(run_id=spec.run_id, attempt=attempt, instance_id=instance_id)
    env = [{"name": k, "value": v} for k, v in sorted(template.env.items())]
    env += [
        {"name": s.name, "valueFrom": {"secretKeyRef": {"name": s.secret, "key": s.key}}}
        for s in template.secret_env
    ]
    env.append(
        {"name": "TRAINYARD_RUN_TOKEN", "valueFrom": {"secretKeyRef": {"name": name, "key": TOKEN_KEY}}}
    )
    container = {
        "name": CONTAINER,
        "image": template.image,
        "imagePullPolicy": template.image_pull_policy,
        "command": [*template.command, "--spec-json", spec.model_dump_json()],
        "env": env,
        "resources": _resources(resources),
        # Pod Security "restricted": no privilege, read-only root, scratch space on /tmp only.
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": volume_mounts,
    }
    pod_spec: dict = {
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": volumes,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if template.service_account:
        pod_spec["serviceAccountName"] = template.service_account
    if template.node_selector:
        pod_spec["nodeSelector"] = dict(template.node_selector)
    if template.tolerations:
        pod_spec["tolerations"] = [_toleration(t) for t in template.tolerations]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": template.namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": template.active_deadline_s,
            "ttlSecondsAfterFinished": template.ttl_after_finished_s,
            "podFailurePolicy": {
                "rules": [
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                    {
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": CONTAINER,
                            "operator": "In",
                            "values": list(FINAL_EXIT_CODES),
                        },
                    },
                ]
            },
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def build_token_secret(
    *, namespace: str, run_id: str, attempt: int, instance_id: str, token: str, job_uid: str | None
) -> dict:
    """The attempt's token, owned by its Job so the cluster deletes it with the Job."""
    name = job_name(run_id, attempt)
    metadata: dict = {
        "name": name,
        "namespace": namespace,
        "labels": run_labels(run_id=run_id, attempt=attempt, instance_id=instance_id),
    }
    if job_uid:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": name,
                "uid": job_uid,
                "blockOwnerDeletion": False,
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "stringData": {TOKEN_KEY: token},
    }
