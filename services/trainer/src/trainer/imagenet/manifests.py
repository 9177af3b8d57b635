"""Kubernetes manifests of the ImageNet run, built by pure functions from typed specs (no cluster needed).

- ``prepare_manifests``: one Job running ``python -m trainer.imagenet.prepare`` onto a PVC.
- ``training_manifests``: one node -> a Job whose pod runs ``torchrun --nproc-per-node G`` (1 or 8 GPUs);
  several nodes -> a headless Service plus an Indexed Job of N pods: pod i runs torchrun with
  ``--node-rank $(JOB_COMPLETION_INDEX)`` and meets the others at ``<job>-0.<service>`` (pod DNS through
  the Job's ``subdomain``). A pod that is lost fails the attempt; the Job's retry resumes from the epoch
  checkpoint in the object store.
Every manifest passes ``kubernetes-validate --strict`` (tests/imagenet/test_manifests.py).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainer.imagenet.config import ImageNetTrainConfig
from trainer.imagenet.prepare import PrepareConfig

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DATA_MOUNT = "/data/imagenet"
RDZV_PORT = 29500


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PodResources(_Strict):
    gpus: int = Field(1, ge=0, le=16, description="per pod (node); 0 = CPU only")
    cpus: int = Field(8, ge=1, le=512, description="per pod")
    memory_gi: int = Field(64, ge=1, le=4096, description="per pod")
    shm_gi: int = Field(16, ge=1, le=1024, description="/dev/shm for the data-loader workers")
    gpu_resource: str = "nvidia.com/gpu"
    node_selector: dict[str, str] = Field(default_factory=dict)


class JobSpec(_Strict):
    """What every ImageNet Job shares: names, image, storage, credentials."""

    name: str = Field(description="Job name (DNS label, <= 52 characters so pod names fit)")
    namespace: str = "trainyard"
    image: str = Field(description="the trainer image")
    data_pvc: str = Field(description="PVC holding (or receiving) the prepared train/ and val/ folders")
    env_secret: str = Field("trainyard-trainer-env", description="Secret with TRAINYARD_* store settings")
    backoff_limit: int = Field(3, ge=0, le=100, description="retries after a lost pod")
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("name", "namespace", "data_pvc", "env_secret")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if len(value) > 52 or not DNS_LABEL.fullmatch(value):
            raise ValueError("must be a DNS label: lower-case letters, digits and '-', at most 52 characters")
        return value


class TrainingJobSpec(JobSpec):
    nodes: int = Field(1, ge=1, le=256)
    resources: PodResources = Field(default_factory=PodResources)
    config: ImageNetTrainConfig
    report_url: str | None = None


class PrepareJobSpec(JobSpec):
    raw_pvc: str | None = Field(None, description="PVC with the ILSVRC2012 tars, mounted read-only at /raw")
    config: PrepareConfig
    resources: PodResources = Field(default_factory=lambda: PodResources(gpus=0, cpus=16, memory_gi=32))


def _metadata(spec: JobSpec, component: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "trainyard", "app.kubernetes.io/component": component, **spec.labels}
    return {"name": spec.name, "namespace": spec.namespace, "labels": labels}


def _container(spec: JobSpec, resources: PodResources, args: list[str], mounts: list[dict]) -> dict:
    limits: dict[str, Any] = {"cpu": str(resources.cpus), "memory": f"{resources.memory_gi}Gi"}
    if resources.gpus:
        limits[resources.gpu_resource] = resources.gpus
    return {
        "name": "main",
        "image": spec.image,
        "args": args,
        "envFrom": [{"secretRef": {"name": spec.env_secret}}],
        # HOME on the writable /tmp: torch.compile and Triton keep their caches under it.
        "env": [{"name": "OMP_NUM_THREADS", "value": "1"}, {"name": "HOME", "value": "/tmp"}],
        "resources": {"requests": dict(limits), "limits": limits},
        "volumeMounts": [
            {"name": "dshm", "mountPath": "/dev/shm"},
            {"name": "tmp", "mountPath": "/tmp"},
            *mounts,
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def _job(spec: JobSpec, component: str, pod_spec: dict, *, pods: int = 1) -> dict[str, Any]:
    metadata = _metadata(spec, component)
    job_spec: dict[str, Any] = {
        "backoffLimit": spec.backoff_limit,
        "template": {"metadata": {"labels": metadata["labels"]}, "spec": pod_spec},
    }
    if pods > 1:
        job_spec |= {"completionMode": "Indexed", "completions": pods, "parallelism": pods}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": job_spec}


def _pod_spec(resources: PodResources, container: dict, volumes: list[dict]) -> dict[str, Any]:
    shm = {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{resources.shm_gi}Gi"}}
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        # Pod Security "restricted": the chart's namespace for training enforces it.
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [shm, {"name": "tmp", "emptyDir": {}}, *volumes],
    }
    if resources.node_selector:
        pod["nodeSelector"] = dict(resources.node_selector)
    return pod


def torchrun_args(spec: TrainingJobSpec, service: str | None) -> list[str]:
    """The container's command line: torchrun over the pod's GPUs (and, multi-node, the other pods)."""
    config = spec.config.model_copy(update={"data_dir": DATA_MOUNT})
    args = ["torchrun", f"--nproc-per-node={max(spec.resources.gpus, 1)}"]
    if spec.nodes > 1:
        args += [
            f"--nnodes={spec.nodes}",
            "--node-rank=$(JOB_COMPLETION_INDEX)",
            f"--master-addr={spec.name}-0.{service}",
            f"--master-port={RDZV_PORT}",
        ]
    else:
        args.append("--standalone")
    args += ["-m", "trainer.imagenet.train", "--config-json", config.model_dump_json()]
    if spec.report_url:
        args += ["--report-url", spec.report_url]
    return args


def training_manifests(spec: TrainingJobSpec) -> list[dict[str, Any]]:
    """[Job] for one node, [headless Service, Indexed Job] for several."""
    service = f"{spec.name}-rdzv" if spec.nodes > 1 else None
    data = {"name": "data", "persistentVolumeClaim": {"claimName": spec.data_pvc, "readOnly": True}}
    mount = {"name": "data", "mountPath": DATA_MOUNT, "readOnly": True}
    container = _container(spec, spec.resources, torchrun_args(spec, service), [mount])
    pod = _pod_spec(spec.resources, container, [data])
    if spec.nodes == 1:
        return [_job(spec, "imagenet-train", pod)]
    container["ports"] = [{"containerPort": RDZV_PORT, "name": "rdzv"}]
    pod["subdomain"] = service
    job = _job(spec, "imagenet-train", pod, pods=spec.nodes)
    headless = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {**_metadata(spec, "imagenet-rdzv"), "name": service},
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,  # pods find each other before any readiness
            "selector": {"batch.kubernetes.io/job-name": spec.name},
            "ports": [{"name": "rdzv", "port": RDZV_PORT, "targetPort": RDZV_PORT}],
        },
    }
    return [headless, job]


def throughput_manifests(spec: TrainingJobSpec) -> list[dict[str, Any]]:
    """One pod of the training shape running the synthetic-data throughput mode over the prepared data."""
    (job,) = training_manifests(spec.model_copy(update={"nodes": 1}))
    container = job["spec"]["template"]["spec"]["containers"][0]
    workers = max(1, spec.resources.cpus // max(spec.resources.gpus, 1) - 1)
    container["args"] = [
        "torchrun", "--standalone", f"--nproc-per-node={max(spec.resources.gpus, 1)}",
        "-m", "trainer.imagenet.throughput", f"--data-dir={DATA_MOUNT}", f"--workers={workers}",
        f"--batch-size={spec.config.batch_size}",
    ]  # fmt: skip
    job["metadata"]["name"] = f"{spec.name}-throughput"
    return [job]


def prepare_manifests(spec: PrepareJobSpec) -> list[dict[str, Any]]:
    """One Job: the prepared folders go to the data PVC; the tars come from ``raw_pvc`` or the store."""
    config = spec.config.model_copy(update={"output_dir": DATA_MOUNT})
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": spec.data_pvc}}]
    mounts = [{"name": "data", "mountPath": DATA_MOUNT}]
    if spec.raw_pvc:
        volumes.append(
            {"name": "raw", "persistentVolumeClaim": {"claimName": spec.raw_pvc, "readOnly": True}}
        )
        mounts.append({"name": "raw", "mountPath": "/raw", "readOnly": True})
    args = ["python", "-m", "trainer.imagenet.prepare", "--config-json", config.model_dump_json()]
    container = _container(spec, spec.resources, args, mounts)
    return [_job(spec, "imagenet-prepare", _pod_spec(spec.resources, container, volumes))]


def main(argv: list[str] | None = None) -> int:
    """``python -m trainer.imagenet.manifests {train,throughput,prepare} --spec FILE | kubectl apply -f -``"""
    import argparse
    import json
    import sys
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m trainer.imagenet.manifests", description=main.__doc__)
    parser.add_argument("kind", choices=["train", "throughput", "prepare"])
    parser.add_argument("--spec", type=Path, required=True, help="TrainingJobSpec / PrepareJobSpec JSON")
    args = parser.parse_args(argv)
    raw = args.spec.read_text()
    if args.kind in ("train", "throughput"):
        build = training_manifests if args.kind == "train" else throughput_manifests
        items = build(TrainingJobSpec.model_validate_json(raw))
    else:
        items = prepare_manifests(PrepareJobSpec.model_validate_json(raw))
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
