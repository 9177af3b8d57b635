"""Settings fail closed: outside local/test mode a placeholder or missing secret stops the service."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import httpx
import pytest
from common.settings import LOCAL_INTERNAL_TOKEN, SettingsRefused, load_settings
from common.testing.ports import free_port
from dataset.settings import Settings as DatasetSettings
from gateway.main import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings

SERVICES = ("gateway", "dataset", "trainer", "inference")
STRONG = secrets.token_urlsafe(32)


def start_services(services, env: dict[str, str], tmp_path) -> dict[str, tuple[int, str]]:
    """Real uvicorn processes, as the containers start them (all at once); each must exit on its own."""
    processes = {
        service: subprocess.Popen(
            [sys.executable, "-m", "uvicorn", f"{service}.main:create_app", "--factory"]
            + ["--port", str(free_port())],
            env={**env, "TRAINYARD_DATA_DIR": str(tmp_path / service)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for service in services
    }
    results = {}
    for service, process in processes.items():
        try:
            _, stderr = process.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
            stderr = "still running after 90 s: it started instead of refusing\n" + stderr
        results[service] = (process.returncode, stderr)
    return results


def test_every_service_in_production_refuses_the_placeholder_token(tmp_path):
    env = {
        **os.environ,
        "TRAINYARD_ENVIRONMENT": "production",
        "TRAINYARD_INTERNAL_TOKEN": LOCAL_INTERNAL_TOKEN,
    }
    for service, (returncode, stderr) in start_services(SERVICES, env, tmp_path).items():
        assert returncode != 0, stderr
        assert f"trainyard {service}: refusing to start" in stderr
        assert "TRAINYARD_INTERNAL_TOKEN" in stderr
        assert "Traceback" not in stderr  # a message for an operator, not a stack
        assert LOCAL_INTERNAL_TOKEN not in stderr  # secrets are named, never echoed


def test_a_service_with_no_environment_set_is_in_production(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    returncode, stderr = start_services(["gateway"], env, tmp_path)["gateway"]
    assert returncode != 0
    assert "TRAINYARD_ENVIRONMENT=production refuses" in stderr


@pytest.mark.parametrize(
    ("env", "variables"),
    [
        pytest.param({}, ["TRAINYARD_INTERNAL_TOKEN"], id="token-missing"),
        pytest.param(
            {"TRAINYARD_INTERNAL_TOKEN": "short-secret"}, ["TRAINYARD_INTERNAL_TOKEN"], id="token-short"
        ),
        pytest.param(
            {"TRAINYARD_INTERNAL_TOKEN": STRONG, "TRAINYARD_STORE_BACKEND": "s3"},
            ["TRAINYARD_S3_ACCESS_KEY", "TRAINYARD_S3_SECRET_KEY"],
            id="s3-credentials-missing",
        ),
    ],
)
def test_production_names_each_missing_secret(monkeypatch, env, variables):
    monkeypatch.delenv("TRAINYARD_ENVIRONMENT", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsRefused) as refused:
        load_settings(DatasetSettings)
    for variable in variables:
        assert variable in refused.value.message


def test_production_starts_with_real_secrets(monkeypatch):
    monkeypatch.setenv("TRAINYARD_ENVIRONMENT", "production")
    monkeypatch.setenv("TRAINYARD_INTERNAL_TOKEN", STRONG)
    settings = load_settings(DatasetSettings)
    assert settings.internal_token == STRONG
    assert settings.migrates_on_start is False  # production: the migrations step runs once, not each replica


def test_the_gateway_in_production_refuses_single_user_mode(monkeypatch):
    monkeypatch.setenv("TRAINYARD_ENVIRONMENT", "production")
    monkeypatch.setenv("TRAINYARD_INTERNAL_TOKEN", STRONG)
    with pytest.raises(SettingsRefused, match="TRAINYARD_GATEWAY_AUTH_MODE is single_user"):
        load_settings(GatewaySettings)
    monkeypatch.setenv("TRAINYARD_GATEWAY_AUTH_MODE", "multi_user")
    assert load_settings(GatewaySettings).auth_mode == "multi_user"


def test_the_gateway_needs_no_store_credentials_in_production(monkeypatch):
    monkeypatch.setenv("TRAINYARD_ENVIRONMENT", "production")
    monkeypatch.setenv("TRAINYARD_INTERNAL_TOKEN", STRONG)
    monkeypatch.setenv("TRAINYARD_GATEWAY_AUTH_MODE", "multi_user")
    monkeypatch.setenv("TRAINYARD_STORE_BACKEND", "s3")
    assert load_settings(GatewaySettings).store_backend == "s3"
    with pytest.raises(SettingsRefused, match="TRAINYARD_S3_SECRET_KEY"):
        load_settings(DatasetSettings)


@pytest.mark.parametrize("environment", ["local", "test"])
def test_development_modes_accept_the_placeholder(monkeypatch, environment):
    monkeypatch.setenv("TRAINYARD_ENVIRONMENT", environment)
    monkeypatch.delenv("TRAINYARD_INTERNAL_TOKEN", raising=False)
    settings = load_settings(DatasetSettings)
    assert settings.internal_token == LOCAL_INTERNAL_TOKEN
    assert settings.migrates_on_start is True


def test_an_unknown_environment_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("TRAINYARD_ENVIRONMENT", "prod")
    with pytest.raises(SettingsRefused, match="TRAINYARD_ENVIRONMENT.*'prod'"):
        load_settings(DatasetSettings)


async def test_the_gateway_builds_no_store_and_is_ready_while_s3_is_down(tmp_path):
    dead_s3 = f"127.0.0.1:{free_port()}"
    settings = GatewaySettings(
        environment="test",
        data_dir=tmp_path,
        store_backend="s3",
        s3_endpoint=dead_s3,
        s3_access_key="k",
        s3_secret_key="s",
        log_json=False,
    )
    app = create_gateway(settings)
    async with app.router.lifespan_context(app):
        assert app.state.store is None
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as client:
            ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}
