"""Accounts in the gateway: sign-up, log-in, sessions with CSRF, API keys, throttles."""

from __future__ import annotations

import httpx
import pytest

PASSWORD = "correct horse battery"


async def sign_up(client: httpx.AsyncClient, email: str) -> dict:
    response = await client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
async def multi(make_gateway):
    return await make_gateway(auth_mode="multi_user")


async def test_sign_up_sets_an_httponly_samesite_session_cookie(multi):
    response = await multi.post(
        "/api/v1/auth/signup", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 201
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("trainyard_session="))
    assert "HttpOnly" in session and "SameSite=lax" in session
    body = response.json()
    assert body["user"]["email"] == "ada@example.com" and body["via"] == "session"
    assert body["csrf_token"]


async def test_the_session_cookie_identifies_the_user(multi):
    created = await sign_up(multi, "ada@example.com")
    me = await multi.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["id"] == created["user"]["id"]


async def test_without_credentials_multi_user_mode_answers_401(multi):
    response = await multi.get("/api/v1/datasets")
    assert response.status_code == 401
    assert "sign in" in response.json()["error"]["message"]


async def test_a_second_sign_up_with_the_same_email_is_a_conflict(multi):
    await sign_up(multi, "ada@example.com")
    multi.cookies.clear()
    again = await multi.post("/api/v1/auth/signup", json={"email": "ADA@example.com", "password": PASSWORD})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "email_taken"


@pytest.mark.parametrize(
    "body",
    [{"email": "not-an-email", "password": PASSWORD}, {"email": "a@b.io", "password": "short"}, {}],
    ids=["bad-email", "short-password", "empty"],
)
async def test_bad_sign_up_input_is_a_422_naming_the_field(multi, body):
    response = await multi.post("/api/v1/auth/signup", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["detail"][0]["field"] in ("email", "password")


async def test_log_in_with_the_right_password_and_not_with_a_wrong_one(multi):
    await sign_up(multi, "ada@example.com")
    multi.cookies.clear()
    wrong = await multi.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": "x" * 12})
    assert wrong.status_code == 401
    unknown = await multi.post("/api/v1/auth/login", json={"email": "bob@example.com", "password": PASSWORD})
    assert unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]
    right = await multi.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert right.status_code == 200
    assert (await multi.get("/api/v1/auth/me")).status_code == 200


async def test_log_out_ends_the_session_server_side(multi):
    body = await sign_up(multi, "ada@example.com")
    cookie = multi.cookies["trainyard_session"]
    out = await multi.post("/api/v1/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert out.status_code == 204
    # Replaying the old cookie value does not work: the session row is gone.
    assert "trainyard_session" not in multi.cookies
    multi.cookies.set("trainyard_session", cookie)
    replay = await multi.get("/api/v1/auth/me")
    assert replay.status_code == 401


async def test_unsafe_cookie_request_without_the_csrf_header_is_refused(multi):
    body = await sign_up(multi, "ada@example.com")
    refused = await multi.post("/api/v1/keys", json={"name": "k"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    wrong = await multi.post("/api/v1/keys", json={"name": "k"}, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    ok = await multi.post("/api/v1/keys", json={"name": "k"}, headers={"X-CSRF-Token": body["csrf_token"]})
    assert ok.status_code == 201


async def test_a_cross_origin_request_is_refused_even_with_the_csrf_token(multi):
    body = await sign_up(multi, "ada@example.com")
    headers = {"X-CSRF-Token": body["csrf_token"], "Origin": "https://evil.example"}
    response = await multi.post("/api/v1/keys", json={"name": "k"}, headers=headers)
    assert response.status_code == 403


async def test_api_key_is_shown_once_works_as_bearer_and_stops_when_revoked(multi):
    body = await sign_up(multi, "ada@example.com")
    csrf = {"X-CSRF-Token": body["csrf_token"]}
    created = (await multi.post("/api/v1/keys", json={"name": "script"}, headers=csrf)).json()
    key = created["key"]
    assert key.startswith("tyk_") and created["prefix"] == key[:10]
    listed = (await multi.get("/api/v1/keys")).json()["items"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0]

    multi.cookies.clear()
    bearer = {"Authorization": f"Bearer {key}"}
    me = await multi.get("/api/v1/auth/me", headers=bearer)
    assert me.status_code == 200 and me.json()["via"] == "api_key"
    # A key needs no CSRF header: it is not sent by the browser on its own.
    assert (await multi.post("/api/v1/keys", json={"name": "second"}, headers=bearer)).status_code == 201

    assert (await multi.delete(f"/api/v1/keys/{created['id']}", headers=bearer)).status_code == 204
    after = await multi.get("/api/v1/auth/me", headers=bearer)
    assert after.status_code == 401
    assert "revoked" in after.json()["error"]["message"]


async def test_another_users_api_key_id_answers_404(multi):
    ada = await sign_up(multi, "ada@example.com")
    key = (
        await multi.post("/api/v1/keys", json={"name": "a"}, headers={"X-CSRF-Token": ada["csrf_token"]})
    ).json()
    multi.cookies.clear()
    bob = await sign_up(multi, "bob@example.com")
    csrf = {"X-CSRF-Token": bob["csrf_token"]}
    assert (await multi.delete(f"/api/v1/keys/{key['id']}", headers=csrf)).status_code == 404
    assert (await multi.get("/api/v1/keys")).json()["items"] == []


async def test_a_made_up_bearer_token_is_401_not_the_local_user(make_gateway):
    single = await make_gateway()
    response = await single.get("/api/v1/auth/me", headers={"Authorization": "Bearer tyk_madeup"})
    assert response.status_code == 401


async def test_single_user_mode_acts_as_the_local_user_without_sign_in(make_gateway):
    single = await make_gateway()
    me = await single.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["id"] == "local" and me.json()["via"] == "local"
    signup = await single.post("/api/v1/auth/signup", json={"email": "ada@example.com", "password": PASSWORD})
    assert signup.status_code == 403
    assert signup.json()["error"]["code"] == "single_user_mode"


async def test_single_user_mode_refuses_cross_site_writes(make_gateway):
    single = await make_gateway()
    response = await single.post("/api/v1/keys", json={"name": "k"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert (await single.post("/api/v1/keys", json={"name": "k"})).status_code == 201


async def test_login_attempts_are_throttled_per_address_with_retry_after(make_gateway):
    multi = await make_gateway(auth_mode="multi_user", login_attempts_per_minute=3)
    statuses = []
    for _ in range(5):
        response = await multi.post(
            "/api/v1/auth/login", json={"email": "x@example.com", "password": "x" * 12}
        )
        statuses.append(response.status_code)
    assert statuses == [401, 401, 401, 429, 429]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"


async def test_requests_past_the_per_key_limit_get_429_with_retry_after(make_gateway):
    single = await make_gateway(key_rate_limit_per_minute=4)
    key = (await single.post("/api/v1/keys", json={"name": "k"})).json()["key"]
    bearer = {"Authorization": f"Bearer {key}"}
    statuses = [(await single.get("/api/v1/auth/me", headers=bearer)).status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 200, 429, 429]
    limited = await single.get("/api/v1/auth/me", headers=bearer)
    assert int(limited.headers["Retry-After"]) >= 1
    # Another key has its own budget.
    other = (await single.post("/api/v1/keys", json={"name": "k2"})).json()["key"]
    assert (
        await single.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other}"})
    ).status_code == 200


async def test_requests_past_the_per_address_limit_get_429(make_gateway):
    single = await make_gateway(ip_rate_limit_per_minute=3)
    statuses = [(await single.get("/api/v1/auth/me")).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    # The web app and health checks are not API calls and are not counted.
    assert (await single.get("/healthz")).status_code == 200


async def test_times_in_answers_carry_their_utc_offset(multi):
    # SQLite returns naive datetimes; the documented format is an RFC 3339 date-time with an offset.
    body = await sign_up(multi, "ada@example.com")
    me = (await multi.get("/api/v1/auth/me")).json()
    key = (
        await multi.post("/api/v1/keys", json={"name": "k"}, headers={"X-CSRF-Token": body["csrf_token"]})
    ).json()
    listed = (await multi.get("/api/v1/keys")).json()["items"][0]
    for stamp in (me["user"]["created_at"], key["created_at"], listed["created_at"]):
        assert stamp.endswith(("+00:00", "Z")), stamp
