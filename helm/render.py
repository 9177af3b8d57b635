"""Lint and render helm/trainyard with the real Helm v4 library (no helm binary needed).

Runs under Python >= 3.12 in .venv-helm (``make helm-env``), because helm-sdkpy needs it:

    .venv-helm/bin/python helm/render.py lint [--values FILE]
    .venv-helm/bin/python helm/render.py template [--values FILE] [--name N] [--namespace NS]
    .venv-helm/bin/python helm/render.py kustomize [--check]

``lint`` runs Helm's linter twice: helm-sdkpy's ``Lint`` action (the chart's own values) and
helm-python-sdk's ``lint`` with the given values in strict mode; it prints one JSON report and exits
non-zero on any error. ``template`` prints the manifests like ``helm template`` (NOTES.txt left out).
``kustomize`` renders the chart with helm/values-kustomize.yaml into k8s/base/trainyard.yaml, so the
kustomize base is generated from the chart and the two cannot drift (``--check`` only compares).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parent / "trainyard"
KUSTOMIZE_VALUES = CHART.parent / "values-kustomize.yaml"
KUSTOMIZE_BASE = CHART.parents[1] / "k8s" / "base" / "trainyard.yaml"
# Helm's bookkeeping means nothing to kubectl: hooks become plain Jobs, the chart label goes.
HELM_ONLY_ANNOTATIONS = (
    "helm.sh/hook",
    "helm.sh/hook-weight",
    "helm.sh/hook-delete-policy",
    "helm.sh/resource-policy",
)


def load_values(files: list[str]) -> dict:
    merged: dict = {}
    for file in files:
        merged = deep_merge(merged, yaml.safe_load(Path(file).read_text()) or {})
    return merged


def deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            deep_merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def lint(chart: Path, values: dict, kube_version: str) -> int:
    import helm_python
    import helm_sdkpy

    sdkpy = asyncio.run(helm_sdkpy.Lint(helm_sdkpy.Configuration(namespace="trainyard")).run(str(chart)))
    strict = helm_python.lint(
        chart, values or None, strict=True, namespace="trainyard", kube_version=kube_version
    )
    report = {"helm_sdkpy": sdkpy, "helm_python_strict": strict}
    print(json.dumps(report, indent=2, default=str))
    failed = bool(sdkpy.get("Errors")) or bool(strict.get("errors"))
    failed |= any(m.get("Severity", 0) >= 3 for m in sdkpy.get("Messages") or [])
    failed |= any(m.get("severity", 0) >= 2 for m in strict.get("messages") or [])
    return 1 if failed else 0


def render(values: dict, name: str, namespace: str) -> str:
    import helm_python

    chart = helm_python.Chart.load(CHART)
    chart.validate_schema(values or None)
    rendered = chart.render(values or None, name=name, namespace=namespace, is_install=True)
    out = []
    for path in sorted(rendered):
        body = rendered[path].strip()
        if path.endswith("NOTES.txt") or not body:
            continue
        for document in body.split("\n---"):
            if document.strip().strip("-").strip():
                out.append(f"---\n# Source: {path}\n{document.strip().removeprefix('---').strip()}\n")
    return "".join(out)


def template(values: dict, name: str, namespace: str) -> int:
    sys.stdout.write(render(values, name, namespace))
    return 0


def kustomize_base() -> str:
    documents = []
    for document in yaml.safe_load_all(
        render(load_values([str(KUSTOMIZE_VALUES)]), "trainyard", "trainyard")
    ):
        if not document:
            continue
        for meta in [document["metadata"], document.get("spec", {}).get("template", {}).get("metadata", {})]:
            labels = meta.get("labels", {})
            labels.pop("helm.sh/chart", None)
            if "app.kubernetes.io/managed-by" in labels:
                labels["app.kubernetes.io/managed-by"] = "kustomize"
            annotations = meta.get("annotations", {})
            for key in HELM_ONLY_ANNOTATIONS:
                annotations.pop(key, None)
            if "annotations" in meta and not annotations:
                del meta["annotations"]
        documents.append(document)
    header = "# Generated from helm/trainyard by `make kustomize` (helm/render.py kustomize). Do not edit.\n"
    return header + yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True)


def kustomize(check: bool) -> int:
    text = kustomize_base()
    if check:
        if not KUSTOMIZE_BASE.exists() or KUSTOMIZE_BASE.read_text() != text:
            print(f"{KUSTOMIZE_BASE} differs from the chart: run `make kustomize`", file=sys.stderr)
            return 1
        return 0
    KUSTOMIZE_BASE.write_text(text)
    print(f"wrote {KUSTOMIZE_BASE}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["lint", "template", "kustomize"])
    parser.add_argument("--check", action="store_true", help="kustomize: compare, do not write")
    parser.add_argument("--values", "-f", action="append", default=[])
    parser.add_argument("--name", default="trainyard")
    parser.add_argument("--namespace", default="trainyard")
    parser.add_argument("--kube-version", default="v1.33.0")
    parser.add_argument("--chart", type=Path, default=CHART, help="lint: another chart directory")
    args = parser.parse_args()
    if args.command == "kustomize":
        return kustomize(args.check)
    values = load_values(args.values)
    if args.command == "lint":
        return lint(args.chart, values, args.kube_version)
    return template(values, args.name, args.namespace)


if __name__ == "__main__":
    raise SystemExit(main())
