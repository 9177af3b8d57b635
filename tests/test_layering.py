"""Services share only libs/common: no service imports another's package, and common imports none."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("gateway", "dataset", "trainer", "inference")


def imported_top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*.py") if ".venv" not in p.parts]


@pytest.mark.parametrize("service", SERVICES)
def test_service_imports_no_other_service(service: str):
    others = set(SERVICES) - {service}
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_level_names(path) & others)
        for path in python_files(ROOT / "services" / service)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_common_imports_no_service():
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_level_names(path) & set(SERVICES))
        for path in python_files(ROOT / "libs" / "common")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_inference_does_not_import_torch():
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files(ROOT / "services" / "inference" / "src")
        if {"torch", "torchvision", "timm"} & imported_top_level_names(path)
    ]
    assert offenders == []


def test_training_package_imports_neither_fastapi_nor_sqlalchemy():
    training = ROOT / "services" / "trainer" / "src" / "trainer" / "training"
    assert training.is_dir()
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files(training)
        if {"fastapi", "sqlalchemy", "starlette"} & imported_top_level_names(path)
    ]
    assert offenders == []


def test_the_checker_sees_a_cross_service_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from trainer.runs import service\nimport dataset.validation\n")
    assert imported_top_level_names(bad) >= {"trainer", "dataset"}
