"""The maintenance switch through the public entry: admins only (by account), and a refused run keeps
its 503, reason and Retry-After on the way out."""

from __future__ import annotations

import httpx
from common.clients import TrainerClient
from common.settings import LOCAL_INTERNAL_TOKEN
from gateway.main import create_app as create_gateway_app
from gateway.settings import Settings as GatewaySettings
from trainer.main import create_app as create_trainer_app
from trainer.settings import Settings as TrainerSettings

PASSWORD = "correct horse battery"


async def signed_up(gateway, email: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(gateway), base_url="http://gw")
    answer = await client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


async def test_only_admins_turn_maintenance_on_and_users_then_get_503_with_retry_after(tmp_path):
    trainer = create_trainer_app(
        TrainerSettings(
            data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'trainer.db'}", log_json=False
        ),
        dispatch=False,
    )
    gateway = create_gateway_app(
        GatewaySettings(
            data_dir=tmp_path,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
            auth_mode="multi_user",
            admins=["Root@Example.com"],
            log_json=False,
        )
    )
    async with trainer.router.lifespan_context(trainer), gateway.router.lifespan_context(gateway):
        gateway.state.clients.trainer = TrainerClient(
            "http://trainer", internal_token=LOCAL_INTERNAL_TOKEN, transport=httpx.ASGITransport(trainer)
        )
        root, ada = await signed_up(gateway, "root@example.com"), await signed_up(gateway, "ada@example.com")
        anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(gateway), base_url="http://gw")
        try:
            for method in ("GET", "PUT"):
                refused = await ada.request(method, "/api/v1/admin/maintenance", json={"enabled": True})
                assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_an_admin"
            assert (await anonymous.get("/api/v1/admin/maintenance")).status_code == 401

            on = await root.put(
                "/api/v1/admin/maintenance",
                json={"enabled": True, "reason": "moving to new GPUs", "retry_after_s": 900},
            )
            assert on.status_code == 200, on.text
            state = on.json()
            assert state["enabled"] and state["source"] == "switch" and state["changed_by"] != "ops"

            run = await ada.post("/api/v1/runs", json={"dataset_id": "d1"})
            assert run.status_code == 503
            assert run.headers["retry-after"] == "900"
            assert run.json()["error"]["code"] == "maintenance"
            assert "moving to new GPUs" in run.json()["error"]["message"]

            bad = await root.put("/api/v1/admin/maintenance", json={"enabled": True, "retry_after_s": 0})
            assert bad.status_code == 422

            off = await root.put("/api/v1/admin/maintenance", json={"enabled": False})
            assert off.json()["enabled"] is False
            # Past maintenance, the request reaches the data set check (the dataset service is down here).
            after = await ada.post("/api/v1/runs", json={"dataset_id": "d1"})
            assert after.json()["error"]["code"] != "maintenance"
        finally:
            for client in (root, ada, anonymous):
                await client.aclose()
        await gateway.state.clients.trainer.aclose()
