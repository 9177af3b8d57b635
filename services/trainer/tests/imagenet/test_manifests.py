"""The ImageNet Job manifests, table-driven, each checked by kubernetes-validate in strict mode."""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest
from pydantic import ValidationError
from trainer.imagenet.config import ImageNetTrainConfig
from trainer.imagenet.manifests import (
    DATA_MOUNT,
    PodResources,
    PrepareJobSpec,
    TrainingJobSpec,
    prepare_manifests,
    throughput_manifests,
    training_manifests,
)
from trainer.imagenet.manifests import main as manifests_main
from trainer.imagenet.prepare import PrepareConfig

K8S_VERSION = "1.33.0"
RECIPE = ImageNetTrainConfig(data_dir="/anywhere", schedule="fast", output_prefix="runs/r1/")
COMMON = {"name": "imagenet-r1", "image": "ghcr.io/trainyard/trainer:0.1.0", "data_pvc": "imagenet-prepared"}


def training(nodes: int, gpus: int) -> TrainingJobSpec:
    return TrainingJobSpec(
        **COMMON, nodes=nodes, resources=PodResources(gpus=gpus, cpus=8 * gpus, memory_gi=60 * gpus),
        config=RECIPE, report_url="http://trainer:8000/internal/runs/r1/events?attempt=1",
    )  # fmt: skip


PREPARE = PrepareConfig.model_validate(
    {
        "train_tar": {"path": "/raw/ILSVRC2012_img_train.tar"},
        "val_tar": {"key": "imagenet/ILSVRC2012_img_val.tar"},
        "devkit": {"loc_val_solution": {"path": "/raw/LOC_val_solution.csv"}},
        "output_dir": "/ignored",
        "shards": {"shorter_side": 256},
    }
)

CASES = {
    "1 GPU": (lambda: training_manifests(training(1, 1)), ["Job"]),
    "8 GPUs": (lambda: training_manifests(training(1, 8)), ["Job"]),
    "4 nodes x 8 GPUs": (lambda: training_manifests(training(4, 8)), ["Service", "Job"]),
    "throughput, 8 GPUs": (lambda: throughput_manifests(training(1, 8)), ["Job"]),
    "prepare": (
        lambda: prepare_manifests(PrepareJobSpec(**COMMON, raw_pvc="ilsvrc-raw", config=PREPARE)),
        ["Job"],
    ),
}


@pytest.mark.parametrize(("build", "kinds"), CASES.values(), ids=CASES.keys())
def test_manifests_pass_kubernetes_validate_in_strict_mode(build, kinds):
    manifests = build()
    assert [m["kind"] for m in manifests] == kinds
    for manifest in manifests:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)  # raises on any problem


def _container(job: dict) -> dict:
    return job["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("gpus", [1, 8])
def test_one_node_runs_torchrun_over_every_gpu_of_the_pod(gpus):
    (job,) = training_manifests(training(1, gpus))
    container = _container(job)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == gpus
    assert container["args"][:3] == ["torchrun", f"--nproc-per-node={gpus}", "--standalone"]
    config = json.loads(container["args"][container["args"].index("--config-json") + 1])
    assert config["data_dir"] == DATA_MOUNT and config["schedule"] == "fast"
    assert {"mountPath": "/dev/shm", "name": "dshm"} in container["volumeMounts"]


def test_several_nodes_are_an_indexed_job_meeting_at_pod_0_through_the_headless_service():
    service, job = training_manifests(training(4, 8))
    assert job["spec"].items() >= {"completionMode": "Indexed", "completions": 4, "parallelism": 4}.items()
    pod = job["spec"]["template"]["spec"]
    assert pod["subdomain"] == service["metadata"]["name"] and service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"batch.kubernetes.io/job-name": job["metadata"]["name"]}
    args = _container(job)["args"]
    assert "--nnodes=4" in args and "--node-rank=$(JOB_COMPLETION_INDEX)" in args
    assert f"--master-addr=imagenet-r1-0.{service['metadata']['name']}" in args


@pytest.mark.parametrize("build", [c[0] for c in CASES.values()], ids=CASES.keys())
def test_every_pod_meets_pod_security_restricted(build):
    for job in (m for m in build() if m["kind"] == "Job"):
        pod = job["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        context = pod["containers"][0]["securityContext"]
        assert context == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }


def test_the_validator_catches_a_broken_manifest():
    (job,) = training_manifests(training(1, 1))
    broken = copy.deepcopy(job)
    broken["spec"]["template"]["spec"]["containers"][0]["gpus"] = 1  # no such field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


@pytest.mark.parametrize("name", ["ImageNet", "a_b", "x" * 53, "-lead"])
def test_names_that_are_not_dns_labels_are_refused(name):
    with pytest.raises(ValidationError, match="DNS label"):
        TrainingJobSpec(**{**COMMON, "name": name}, config=RECIPE)


def test_the_cli_prints_a_list_that_kubectl_apply_takes(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(training(2, 8).model_dump_json())
    assert manifests_main(["train", "--spec", str(spec)]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["kind"] == "List" and [i["kind"] for i in listing["items"]] == ["Service", "Job"]
    for item in listing["items"]:
        kubernetes_validate.validate(item, K8S_VERSION, strict=True)
