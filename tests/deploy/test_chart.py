"""helm/trainyard: linted and rendered by the real Helm v4 library; every object valid for Kubernetes."""

from __future__ import annotations

import json
import shutil

import kubernetes_validate
import pytest

from tests.deploy.manifests import (
    HELM_PYTHON,
    ROOT,
    VALUES,
    all_renders,
    chart,
    helm,
    named,
    of_kind,
    template_with,
    value_args,
)

KUBERNETES_VERSION = "1.33.0"
SERVICES = ("gateway", "dataset", "trainer", "inference")


@pytest.mark.parametrize("values", ["default", "production"])
def test_the_chart_lints_clean(values):
    done = helm("lint", *value_args(VALUES[values]))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["helm_sdkpy"]["TotalChartsLinted"] == 1
    assert report["helm_python_strict"]["errors"] == []


def test_lint_finds_a_broken_template(tmp_path):
    broken = tmp_path / "trainyard"
    shutil.copytree(ROOT / "helm" / "trainyard", broken)
    (broken / "templates" / "broken.yaml").write_text(
        "kind: ConfigMap\nmetadata:\n  name: {{ .Values.nope.deeper }}\n"
    )
    done = helm("lint", "--chart", str(broken))
    assert done.returncode != 0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"trainer": {"executor": "slurm"}}, "/trainer/executor", id="unknown-executor"),
        pytest.param({"gatway": {}}, "gatway", id="misspelt-key"),
    ],
)
def test_the_values_schema_refuses_bad_values(tmp_path, values, message):
    done = template_with(tmp_path, values)
    assert done.returncode != 0
    assert message in done.stderr


def test_external_stores_need_an_operator_made_secret(tmp_path):
    done = template_with(tmp_path, {"postgresql": {"bundled": False, "external": {"cidrs": ["10.0.0.0/8"]}}})
    assert done.returncode != 0
    assert "secrets.existingSecret is required" in done.stderr


def rendered_objects():
    for render, objects in all_renders().items():
        for obj in objects:
            yield pytest.param(obj, id=f"{render}:{obj['kind']}/{obj['metadata']['name']}")


@pytest.mark.skipif(
    not HELM_PYTHON.exists(), reason="collected before `make helm-env`; test_the_chart_lints_clean fails"
)
@pytest.mark.parametrize("obj", list(rendered_objects()) if HELM_PYTHON.exists() else [])
def test_every_rendered_object_passes_kubernetes_validate_strict(obj):
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validate_strict_refuses_an_unknown_field():
    deployment = json.loads(json.dumps(named(chart("default"), "Deployment", "trainyard-gateway")))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="securityContxt"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("values", ["default", "production"])
def test_the_chart_runs_four_services_behind_one_ingress(values):
    objects = chart(values)
    for service in SERVICES:
        deployment = named(objects, "Deployment", f"trainyard-{service}")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        assert named(objects, "Service", f"trainyard-{service}")["spec"]["type"] == "ClusterIP"
    (ingress,) = of_kind(objects, "Ingress")
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"trainyard-gateway"}
    assert named(objects, "PodDisruptionBudget", "trainyard-inference")
    hpa = named(objects, "HorizontalPodAutoscaler", "trainyard-inference")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "trainyard-inference"
    assert "replicas" not in named(objects, "Deployment", "trainyard-inference")["spec"]  # the HPA owns it


def test_with_an_external_database_migrations_run_once_as_pre_install_and_pre_upgrade_hook_jobs():
    objects = chart("production")
    jobs = [job for job in of_kind(objects, "Job") if "migrate" in job["metadata"]["name"]]
    assert sorted(job["spec"]["template"]["spec"]["containers"][0]["args"][-1] for job in jobs) == sorted(
        f"{service}.migrate" for service in SERVICES
    )
    for job in jobs:
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    for deployment in of_kind(objects, "Deployment"):
        assert "initContainers" not in deployment["spec"]["template"]["spec"]  # servers never migrate


def test_with_the_bundled_database_each_deployment_migrates_in_an_init_container():
    # At pre-install the bundled Postgres does not exist yet, so no hook could reach it.
    objects = chart("default")
    assert [job for job in of_kind(objects, "Job") if "migrate" in job["metadata"]["name"]] == []
    for service in SERVICES:
        spec = named(objects, "Deployment", f"trainyard-{service}")["spec"]["template"]["spec"]
        (init,) = spec["initContainers"]
        assert init["args"] == ["python", "-m", f"{service}.migrate"]
        assert init["image"] == spec["containers"][0]["image"]


def test_production_training_jobs_get_the_gpu_pool_settings():
    config = named(chart("production"), "ConfigMap", "trainyard-config")["data"]
    assert config["TRAINYARD_TRAINER_EXECUTOR"] == "kubernetes"
    assert config["TRAINYARD_TRAINER_KUBERNETES__NAMESPACE"] == "trainyard-runs"
    # Jobs in the run namespace report to the trainer by its namespace-qualified name.
    assert config["TRAINYARD_TRAINER_URL"] == "http://trainyard-trainer.trainyard.svc:8000"
    assert json.loads(config["TRAINYARD_TRAINER_KUBERNETES__NODE_SELECTOR"]) == {"trainyard.dev/pool": "gpu"}
    assert json.loads(config["TRAINYARD_TRAINER_KUBERNETES__TOLERATIONS"])[0]["key"] == "nvidia.com/gpu"
    assert config["TRAINYARD_TRAINER_KUBERNETES__GPUS"] == "1"
    assert config["TRAINYARD_TRAINER_KUBERNETES__IMAGE"].endswith("/trainyard/trainer:0.1.0-cuda")
    assert config["TRAINYARD_ENVIRONMENT"] == "production"
    assert config["TRAINYARD_GATEWAY_AUTH_MODE"] == "multi_user"  # accounts, not the single local user
