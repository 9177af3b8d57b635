"""k8s/: a kustomize base generated from the chart, and dev/prod overlays that kubectl renders."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import helm, named, of_kind, overlay

NAMESPACES = {"dev": "trainyard-dev", "prod": "trainyard"}


def test_the_base_is_the_chart_rendered_now():
    done = helm("kustomize", "--check")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", sorted(NAMESPACES))
def test_the_overlay_renders_into_its_namespace(name):
    objects = overlay(name)
    assert len(of_kind(objects, "Deployment")) == 4
    assert {obj["metadata"]["namespace"] for obj in objects} == {NAMESPACES[name]}
    config = named(objects, "ConfigMap", "trainyard-config")["data"]
    # The trainer creates Jobs where its Role lets it.
    assert config["TRAINYARD_TRAINER_KUBERNETES__NAMESPACE"] == NAMESPACES[name]
    assert named(objects, "Role", "trainyard-trainer-jobs")["metadata"]["namespace"] == NAMESPACES[name]
    (subject,) = named(objects, "RoleBinding", "trainyard-trainer-jobs")["subjects"]
    assert subject["namespace"] == NAMESPACES[name]
    assert of_kind(objects, "Secret") == []  # the operator creates trainyard-secrets; none in git


def test_prod_pins_registry_images_and_runs_cuda_training_jobs():
    objects = overlay("prod")
    images = {
        container["image"]
        for deployment in of_kind(objects, "Deployment")
        for container in deployment["spec"]["template"]["spec"]["containers"]
    }
    assert all(image.startswith("registry.example.com/ml/trainyard/") for image in images)
    config = named(objects, "ConfigMap", "trainyard-config")["data"]
    assert config["TRAINYARD_TRAINER_KUBERNETES__IMAGE"].endswith(":0.1.0-cuda")
    assert config["TRAINYARD_TRAINER_KUBERNETES__GPUS"] == "1"
    assert named(objects, "HorizontalPodAutoscaler", "trainyard-inference")["spec"]["minReplicas"] == 3
