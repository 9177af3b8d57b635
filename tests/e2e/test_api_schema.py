"""schemathesis against the gateway's OpenAPI document, authenticated with an API key on the multi-user
platform: a bounded number of valid and invalid examples per operation; every answer must be a non-5xx
whose status, content type and body are the ones the document declares."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.e2e

EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def api_key(multi_stack) -> str:
    with httpx.Client(base_url=multi_stack.gateway_url, timeout=60) as browser:
        me = browser.post("/api/v1/auth/signup", json={"email": "fuzz@example.com", "password": "x" * 16})
        assert me.status_code == 201, me.text
        key = browser.post(
            "/api/v1/keys", json={"name": "fuzz"}, headers={"X-CSRF-Token": me.json()["csrf_token"]}
        )
        return key.json()["key"]


def test_every_answer_matches_the_documented_schema(multi_stack, api_key):
    schema = schemathesis.openapi.from_url(f"{multi_stack.gateway_url}/openapi.json")
    headers = {"Authorization": f"Bearer {api_key}"}
    failures, calls = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") in ("revoke_api_key", "log_out"):
            continue  # they would end the fuzzer's own credential; covered by the accounts tests
        strategy = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @FUZZ
        @given(case=strategy)
        def check(case) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(
                base_url=multi_stack.gateway_url, headers=headers, checks=CHECKS, timeout=30
            )

        try:
            check()
        except Exception as e:  # noqa: BLE001 - collected, all reported at the end
            failures.append(f"{operation.label}: {type(e).__name__}: {str(e)[:1500]}")
    assert failures == []
    assert calls >= 20 * EXAMPLES // 2
