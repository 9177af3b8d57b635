"""Security properties of every rendered object (chart with each values file, both kustomize overlays)."""

from __future__ import annotations

import json
import re

import pytest

from tests.deploy.manifests import HELM_PYTHON, all_renders, containers, named, of_kind, pod_templates

RENDERS = list(all_renders()) if HELM_PYTHON.exists() else []
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|ACCESS_KEY|DATABASE_URL|ROOT_USER|CREDENTIAL", re.I)
SECRET_REFERENCES = "TRAINYARD_TRAINER_KUBERNETES__SECRET_ENV"
PLACEHOLDERS = ("local-dev-internal-token", "test-internal-token", "changeme", "change-me", "minioadmin")


@pytest.fixture(params=RENDERS)
def objects(request):
    return all_renders()[request.param]


def test_every_pod_runs_restricted(objects):
    pods = list(pod_templates(objects))
    assert pods
    for obj, template in pods:
        spec = template["spec"]
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] > 0, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), where
        for container in containers(spec):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert not context.get("capabilities", {}).get("add"), where
            assert not context.get("privileged"), where
            assert container["resources"]["limits"]["memory"], where
            assert any(mount["mountPath"] == "/tmp" for mount in container["volumeMounts"]), where
        tmp = [volume for volume in spec["volumes"] if volume["name"] == "tmp"]
        assert tmp and "emptyDir" in tmp[0], where


def test_only_the_trainer_talks_to_the_kubernetes_api(objects):
    config = next(obj for obj in objects if obj["kind"] == "ConfigMap")["data"]
    uses_jobs = config["TRAINYARD_TRAINER_EXECUTOR"] == "kubernetes"
    for obj, template in pod_templates(objects):
        expected = uses_jobs and obj["metadata"]["name"].endswith("-trainer") and obj["kind"] == "Deployment"
        assert template["spec"]["automountServiceAccountToken"] is expected, obj["metadata"]["name"]


def matches(selector: dict, labels: dict) -> bool:
    """A Kubernetes label selector (matchLabels and In/NotIn/Exists expressions) against pod labels."""
    if not all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


def selects(policy: dict, labels: dict) -> bool:
    return matches(policy["spec"]["podSelector"], labels)


def test_every_pod_is_covered_by_network_policies(objects):
    policies = of_kind(objects, "NetworkPolicy")
    for obj, template in pod_templates(objects):
        namespace = obj["metadata"]["namespace"]
        labels = template["metadata"]["labels"]
        here = [policy for policy in policies if policy["metadata"]["namespace"] == namespace]
        deny = [
            p
            for p in here
            if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"] and "egress" not in p["spec"]
        ]
        assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}, namespace
        own = [p for p in here if p["spec"]["podSelector"] and selects(p, labels)]
        assert own, f"no NetworkPolicy selects {obj['kind']}/{obj['metadata']['name']}"


def test_only_the_gateway_is_reachable_from_outside(objects):
    for policy in of_kind(objects, "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            if not rule.get("from"):  # any source
                component = policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                assert component == "gateway", policy["metadata"]["name"]
            for peer in rule.get("from", []):
                assert "ipBlock" not in peer, policy["metadata"]["name"]


TRAINING_LABELS = {"app.kubernetes.io/name": "trainyard", "app.kubernetes.io/component": "training"}


def test_training_pods_reach_only_each_other_the_trainer_and_the_object_store(objects):
    policies = [p for p in of_kind(objects, "NetworkPolicy") if p["metadata"]["name"].endswith("-training")]
    config = next(obj for obj in objects if obj["kind"] == "ConfigMap")["data"]
    if config["TRAINYARD_TRAINER_EXECUTOR"] != "kubernetes":
        assert policies == []
        return
    (policy,) = policies
    assert selects(policy, TRAINING_LABELS)
    for rule in policy["spec"]["ingress"]:  # only the other pods of a distributed run
        assert all(matches(peer["podSelector"], TRAINING_LABELS) for peer in rule["from"])
    peers = [peer for rule in policy["spec"]["egress"] for peer in rule["to"]]
    reached = set()
    for peer in peers:
        if "ipBlock" in peer:
            reached.add("external-store")
        elif matches(peer["podSelector"], TRAINING_LABELS):
            reached.add("training")
        else:
            reached.add(peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"])
    assert "trainer" in reached and reached <= {"trainer", "training", "minio", "external-store"}
    assert ("minio" in reached) != ("external-store" in reached)


def test_the_imagenet_jobs_the_trainer_builds_are_training_pods_to_the_chart():
    from trainer.imagenet.config import ImageNetTrainConfig
    from trainer.imagenet.manifests import (
        PrepareJobSpec,
        TrainingJobSpec,
        prepare_manifests,
        training_manifests,
    )
    from trainer.imagenet.prepare import PrepareConfig

    from tests.deploy.manifests import chart

    common = {"name": "imagenet-r1", "image": "trainer:1", "data_pvc": "prepared"}
    recipe = ImageNetTrainConfig(data_dir="/d", schedule="fast", output_prefix="runs/r1/")
    prepare = PrepareConfig.model_validate(
        {"train_tar": {"path": "/raw/t.tar"}, "val_tar": {"path": "/raw/v.tar"},
         "devkit": {"loc_val_solution": {"path": "/raw/s.csv"}}, "output_dir": "/o"}
    )  # fmt: skip
    jobs = training_manifests(TrainingJobSpec(**common, nodes=2, config=recipe))
    jobs += prepare_manifests(PrepareJobSpec(**common, config=prepare))
    (policy,) = [
        p
        for p in of_kind(chart("production"), "NetworkPolicy")
        if p["metadata"]["name"].endswith("-training")
    ]
    for job in of_kind(jobs, "Job"):
        assert selects(policy, job["spec"]["template"]["metadata"]["labels"]), job["metadata"]["name"]


def test_secrets_reach_containers_only_through_secret_key_refs(objects):
    for obj, template in pod_templates(objects):
        for container in containers(template["spec"]):
            for env in container.get("env", []):
                if SECRET_NAME.search(env["name"]):
                    assert "value" not in env, f"{obj['metadata']['name']}: literal {env['name']}"
                    assert "secretKeyRef" in env["valueFrom"], env["name"]
            for source in container.get("envFrom", []):
                assert "configMapRef" in source
    for config in of_kind(objects, "ConfigMap"):
        leaked = [key for key in config["data"] if SECRET_NAME.search(key) and key != SECRET_REFERENCES]
        assert not leaked, config["metadata"]["name"]
        if SECRET_REFERENCES in config["data"]:  # what training pods read from which Secret: names only
            for reference in json.loads(config["data"][SECRET_REFERENCES]):
                assert set(reference) == {"name", "secret", "key"}
                # Training pods hold no store credentials: they reach objects with their run token.
                assert not re.search(r"S3|STORE|MINIO", reference["name"], re.I), reference


def string_leaves(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from string_leaves(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from string_leaves(value)
    elif isinstance(node, str):
        yield node


def test_no_literal_secret_values_anywhere(objects):
    values = [value.lower() for value in string_leaves(objects)]
    assert not [value for value in values if any(p in value for p in PLACEHOLDERS)]
    for secret in of_kind(objects, "Secret"):
        # Only the chart's generated Secret, with random values (bundled stores, no existingSecret).
        assert secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert all(len(value) >= 24 for value in secret["data"].values())


def test_rbac_allows_jobs_pods_logs_and_token_secrets_in_the_run_namespace_only(objects):
    assert of_kind(objects, "ClusterRole") == [] and of_kind(objects, "ClusterRoleBinding") == []
    config = next(obj for obj in objects if obj["kind"] == "ConfigMap")["data"]
    roles = of_kind(objects, "Role")
    if config["TRAINYARD_TRAINER_EXECUTOR"] != "kubernetes":
        assert roles == []
        return
    (role,) = roles
    assert role["metadata"]["namespace"] == config["TRAINYARD_TRAINER_KUBERNETES__NAMESPACE"]
    granted = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert set(granted) == {("batch", "jobs"), ("", "pods"), ("", "pods/log"), ("", "secrets")}
    assert granted[("batch", "jobs")] <= {"create", "get", "list", "watch", "delete"}
    assert granted[("", "pods")] <= {"get", "list", "watch"}
    assert granted[("", "pods/log")] == {"get"}
    assert granted[("", "secrets")] == {"create"}  # an attempt's token; never read, list or change one
    assert "*" not in set().union(*granted.values())
    (binding,) = of_kind(objects, "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    (subject,) = binding["subjects"]
    trainer = named(objects, "Deployment", subject["name"])
    assert subject["namespace"] == trainer["metadata"]["namespace"]
    assert trainer["spec"]["template"]["spec"]["serviceAccountName"] == subject["name"]
