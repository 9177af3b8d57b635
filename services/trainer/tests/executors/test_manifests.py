"""The Job builders, table-driven: each case's manifest passes kubernetes-validate in strict mode and
carries what the operator chose."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
from common.contracts import TrainingSpec
from trainer.executors.kubernetes.manifests import (
    DataVolume,
    JobTemplate,
    Resources,
    SecretEnv,
    Toleration,
    build_job,
    build_token_secret,
    job_name,
    label_value,
)

K8S_VERSION = "1.33"
RUN_ID = "0123456789abcdef0123456789abcdef"
SPEC = TrainingSpec(
    run_id=RUN_ID,
    owner="alice",
    dataset_id="d1",
    manifest_key="datasets/d1/manifest.json",
    output_prefix=f"runs/{RUN_ID}/",
    report_url=f"http://trainer:8002/internal/runs/{RUN_ID}/events",
    attempt=2,
    heartbeat_s=10,
)
BASE = JobTemplate(namespace="trainyard", image="registry.example/trainer:1.0")


def container(job: dict) -> dict:
    return job["spec"]["template"]["spec"]["containers"][0]


def pod(job: dict) -> dict:
    return job["spec"]["template"]["spec"]


CASES = [
    pytest.param(
        BASE,
        lambda job: (
            container(job)["resources"]
            == {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"memory": "8Gi"}}
            and "nodeSelector" not in pod(job)
            and "tolerations" not in pod(job)
        ),
        id="cpu-defaults",
    ),
    pytest.param(
        JobTemplate(
            namespace="gpu",
            image="registry.example/trainer:1.0-cuda",
            resources=Resources(cpu_request="8", memory_request="32Gi", memory_limit="64Gi", gpus=4),
            node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
            tolerations=(Toleration("nvidia.com/gpu", effect="NoSchedule"),),
        ),
        lambda job: (
            container(job)["resources"]["limits"] == {"memory": "64Gi", "nvidia.com/gpu": "4"}
            and pod(job)["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
            and pod(job)["tolerations"]
            == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        ),
        id="gpu-node",
    ),
    pytest.param(
        JobTemplate(
            namespace="trainyard",
            image="trainer:dev",
            env={"HTTPS_PROXY": "http://proxy:3128"},
            secret_env=(SecretEnv("WANDB_API_KEY", "team-wandb", "api-key"),),
            service_account="trainyard-training",
        ),
        lambda job: (
            {"name": "HTTPS_PROXY", "value": "http://proxy:3128"} in container(job)["env"]
            and {
                "name": "WANDB_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": "team-wandb", "key": "api-key"}},
            }
            in container(job)["env"]
            and pod(job)["serviceAccountName"] == "trainyard-training"
        ),
        id="secrets-by-reference",
    ),
    pytest.param(
        JobTemplate(namespace="t", image="trainer:dev", active_deadline_s=600, ttl_after_finished_s=0),
        lambda job: (
            job["spec"]["activeDeadlineSeconds"] == 600 and job["spec"]["ttlSecondsAfterFinished"] == 0
        ),
        id="deadline-and-ttl",
    ),
]


@pytest.mark.parametrize(("template", "check"), CASES)
def test_the_job_is_valid_and_carries_the_operators_choices(template, check):
    job = build_job(template, spec=SPEC, attempt=2, instance_id="trainer-7d9f")
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    assert check(job)


def test_every_job_leaves_retries_to_the_queue_and_is_selectable_by_run():
    job = build_job(BASE, spec=SPEC, attempt=2, instance_id="trainer-7d9f")
    assert job["metadata"]["name"] == job_name(RUN_ID, 2) == f"trainyard-{RUN_ID}-2"
    assert job["spec"]["backoffLimit"] == 0
    assert pod(job)["restartPolicy"] == "Never"
    assert pod(job)["securityContext"]["runAsNonRoot"] is True
    assert container(job)["securityContext"]["readOnlyRootFilesystem"] is True
    labels = job["metadata"]["labels"]
    assert labels["trainyard.dev/run-id"] == RUN_ID and labels["trainyard.dev/attempt"] == "2"
    assert job["spec"]["template"]["metadata"]["labels"] == labels
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    }
    assert rules[1]["action"] == "FailJob" and rules[1]["onExitCodes"]["values"] == [1, 75]


def test_the_spec_travels_whole_and_the_token_only_by_secret_reference():
    job = build_job(BASE, spec=SPEC, attempt=2, instance_id="i")
    command = container(job)["command"]
    assert command[:4] == ["python", "-m", "trainer.training", "--spec-json"]
    assert TrainingSpec.model_validate(json.loads(command[4])) == SPEC
    token_env = next(e for e in container(job)["env"] if e["name"] == "TRAINYARD_RUN_TOKEN")
    assert token_env["valueFrom"]["secretKeyRef"] == {"name": job_name(RUN_ID, 2), "key": "token"}
    assert "INTERNAL_TOKEN" not in json.dumps(job)


def test_the_token_secret_is_owned_by_its_job():
    secret = build_token_secret(
        namespace="trainyard", run_id=RUN_ID, attempt=2, instance_id="i", token="s3cret", job_uid="uid-1"
    )
    kubernetes_validate.validate(secret, K8S_VERSION, strict=True)
    assert secret["stringData"] == {"token": "s3cret"}
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("trainer-0", "trainer-0"),
        ("pod.name_1", "pod.name_1"),
        ("-x/y:z-", "x-y-z"),
        ("é" * 70, "unknown"),
        ("a" * 80, "a" * 63),
    ],
)
def test_label_values_are_made_valid(raw, expected):
    assert label_value(raw) == expected


IMAGENET_SPEC = SPEC.model_copy(update={"config": {"task": "imagenet", "data": "ilsvrc2012", "gpus": 8}})
WITH_DATA = JobTemplate(
    namespace="gpu",
    image="trainer:cuda",
    resources=Resources(gpus=1),
    data_volume=DataVolume(claim_name="imagenet-prepared", mount_path="/data/imagenet"),
)


def test_an_imagenet_run_gets_its_gpus_and_the_data_claim_read_only():
    job = build_job(WITH_DATA, spec=IMAGENET_SPEC, attempt=1, instance_id="trainer-0")

    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    assert container(job)["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert {"name": "data", "mountPath": "/data/imagenet", "readOnly": True} in container(job)["volumeMounts"]
    assert {
        "name": "data",
        "persistentVolumeClaim": {"claimName": "imagenet-prepared", "readOnly": True},
    } in pod(job)["volumes"]


def test_other_runs_get_neither_the_data_claim_nor_a_gpu_count_of_their_own():
    image_spec = SPEC.model_copy(update={"config": {"task": "image", "gpus": 8}})
    job = build_job(WITH_DATA, spec=image_spec, attempt=1, instance_id="trainer-0")

    assert container(job)["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert [v["name"] for v in pod(job)["volumes"]] == ["tmp"]
    assert [m["name"] for m in container(job)["volumeMounts"]] == ["tmp"]


def test_the_data_claim_comes_from_the_operators_settings():
    from trainer.executors.kubernetes.settings import KubernetesSettings

    template = KubernetesSettings(data_claim="imagenet-prepared").job_template(
        base_env={}, active_deadline_s=60
    )
    assert template.data_volume == DataVolume("imagenet-prepared", "/data/imagenet")
    assert KubernetesSettings().job_template(base_env={}, active_deadline_s=60).data_volume is None


def test_a_training_job_holds_no_store_credentials():
    """The operator's store is S3 with keys; the Job of a run names neither the store nor its keys (the
    pod reaches objects through the trainer with its run token, whose Secret is its only credential)."""
    from trainer.executors.kubernetes.executor import job_template
    from trainer.settings import Settings

    settings = Settings(
        executor="kubernetes",
        store_backend="s3",
        s3_endpoint="minio:9000",
        s3_bucket="trainyard",
        s3_access_key="AKIA-OPERATOR-KEY",
        s3_secret_key="operator-secret-key-value",
    )
    spec = SPEC.model_copy(update={"objects_url": f"http://trainer:8002/internal/runs/{RUN_ID}/objects"})
    job = build_job(job_template(settings), spec=spec, attempt=1, instance_id="trainer-1")
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    text = json.dumps(job)
    for leak in ("AKIA-OPERATOR-KEY", "operator-secret-key-value", "S3_", "STORE_", "minio:9000"):
        assert leak not in text
    secret_refs = [e for e in container(job)["env"] if "valueFrom" in e]
    assert [e["name"] for e in secret_refs] == ["TRAINYARD_RUN_TOKEN"]
    assert spec.objects_url in text  # the spec on the command line says where its objects are
