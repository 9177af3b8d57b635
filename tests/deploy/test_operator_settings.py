"""The maintenance and retention settings an operator sets in the chart (and the kustomize overlays) reach
the services as the settings they mean: each rendered ConfigMap is loaded by the trainer's and the
gateway's own settings classes, as their pods would load it."""

from __future__ import annotations

import pytest
import yaml
from gateway.settings import Settings as GatewaySettings
from trainer.settings import Settings as TrainerSettings

from tests.deploy.manifests import chart, named, overlay, template_with


def config_of(objects) -> dict[str, str]:
    return named(objects, "ConfigMap", "trainyard-config")["data"]


def loaded(monkeypatch, config: dict[str, str]) -> tuple[TrainerSettings, GatewaySettings]:
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    # Everything from the ConfigMap, but test mode: no Secret is mounted here.
    return TrainerSettings(environment="test"), GatewaySettings(environment="test")


def operator(trainer: TrainerSettings, gateway: GatewaySettings) -> dict:
    return {
        "maintenance": trainer.maintenance,
        "retry_after_s": trainer.maintenance_retry_after_s,
        "run_ttl_days": trainer.run_ttl_days,
        "model_ttl_days": trainer.model_ttl_days,
        "retention_interval_s": trainer.retention_interval_s,
        "admins": gateway.admins,
    }


def render(tmp_path, values: dict) -> tuple:
    done = template_with(tmp_path, values)
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def test_by_default_every_run_is_kept_and_maintenance_is_the_admin_switchs(monkeypatch):
    assert operator(*loaded(monkeypatch, config_of(chart("default")))) == {
        "maintenance": False,
        "retry_after_s": 600,
        "run_ttl_days": 0,
        "model_ttl_days": 0,
        "retention_interval_s": 300,
        "admins": [],
    }


@pytest.mark.parametrize("source", ["chart-production", "kustomize-prod"])
def test_the_production_examples_expire_failed_runs_after_30_days_and_keep_models(monkeypatch, source):
    objects = chart("production") if source == "chart-production" else overlay("prod")
    settings = operator(*loaded(monkeypatch, config_of(objects)))
    assert (settings["run_ttl_days"], settings["model_ttl_days"]) == (30, 0)
    assert settings["admins"] == ["ops@example.com"]


def test_an_operators_maintenance_and_retention_values_reach_the_trainer_and_gateway(tmp_path, monkeypatch):
    values = {
        "gateway": {"admins": ["ops@example.com", "u-42"]},
        "trainer": {
            "maintenance": {"enabled": True, "retryAfterSeconds": 900},
            "retention": {"runTtlDays": 7.5, "modelTtlDays": 90, "intervalSeconds": 60},
        },
    }
    assert operator(*loaded(monkeypatch, config_of(render(tmp_path, values)))) == {
        "maintenance": True,
        "retry_after_s": 900,
        "run_ttl_days": 7.5,
        "model_ttl_days": 90,
        "retention_interval_s": 60,
        "admins": ["ops@example.com", "u-42"],
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"trainer": {"retention": {"runTtlDays": -1}}}, "runTtlDays", id="negative-ttl"),
        pytest.param({"trainer": {"retention": {"intervalSeconds": 0}}}, "intervalSeconds", id="no-interval"),
        pytest.param({"trainer": {"retention": {"runTTLDays": 3}}}, "runTTLDays", id="misspelt-key"),
        pytest.param({"trainer": {"maintenance": {"enabled": "yes"}}}, "enabled", id="not-a-boolean"),
        pytest.param({"gateway": {"admins": "ops@example.com"}}, "admins", id="admins-not-a-list"),
    ],
)
def test_the_schema_refuses_bad_maintenance_and_retention_values(tmp_path, values, message):
    done = template_with(tmp_path, values)
    assert done.returncode != 0
    assert message in done.stderr
