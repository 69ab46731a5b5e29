"""Every endpoint of both documents refuses a missing or forged credential with 401 and a
problem document (an OperationOutcome on /fhir routes), before it looks at anything else.
Public endpoints are the listed few. Activation-code guessing is locked out after a few failures:
tests/pro_api/auth/test_activation.py."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.security.endpoints import (
    RULES,
    Endpoint,
    classified,
    documented_endpoints,
)
from tests.security.world import request_for
from tests.support.tokens import ISSUER, TEST_SECRET, TokenFactory, raw_token

PUBLIC = {
    "pro_api GET /healthz",
    "pro_api GET /readyz",
    "pro_api POST /v1/auth/activate",
    "pro_api POST /v1/auth/refresh",
    "safety_api GET /healthz",
    "safety_api GET /readyz",
}
PROTECTED = classified(lambda e: not e.rule.public)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(service: str, **overrides: Any) -> dict[str, Any]:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {
        "iss": ISSUER,
        "aud": service,
        "sub": "attacker",
        "role": "trial_admin",
        "iat": now,
        "exp": now + 600,
        "jti": "j-attack",
    }
    claims.update(overrides)
    return claims


def _expired(service: str) -> str:
    past = int(dt.datetime.now(dt.UTC).timestamp()) - 3600
    return raw_token(_claims(service, iat=past - 600, exp=past), TEST_SECRET)


def _wrong_audience(service: str) -> str:
    other = "safety_api" if service == "pro_api" else "pro_api"
    return raw_token(_claims(service, aud=other), TEST_SECRET)


def _alg_none(service: str) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(_claims(service)).encode())}."


def _tampered(service: str) -> str:
    token = TokenFactory()("monitor", aud=service)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "trial_admin"
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


FORGERIES: dict[str, Callable[[str], str]] = {
    "expired": _expired,
    "wrong-audience": _wrong_audience,
    "alg-none": _alg_none,
    "tampered-claims": _tampered,
}


def assert_refused(response: httpx.Response, endpoint: Endpoint, status: int) -> None:
    assert response.status_code == status, f"{endpoint}: {response.status_code} {response.text}"
    media_type = response.headers["content-type"].split(";")[0]
    if endpoint.path.startswith("/fhir"):
        assert media_type in ("application/problem+json", "application/fhir+json"), media_type
        if media_type == "application/fhir+json":
            assert response.json()["resourceType"] == "OperationOutcome"
            return
    assert media_type == "application/problem+json", f"{endpoint}: {media_type}"
    assert response.json()["status"] == status


async def _call(trial: dict[str, Any], endpoint: Endpoint, headers: dict[str, str]) -> Any:
    client = trial["clients"][endpoint.service]
    args = request_for(endpoint, trial["worlds"]["A"][endpoint.service])
    return await client.request(**args, headers=headers)


def test_every_endpoint_is_classified() -> None:
    documented = {e.key for e in documented_endpoints()}
    unclassified = sorted(documented - RULES.keys())
    assert not unclassified, f"add these endpoints to tests/security/endpoints.py: {unclassified}"
    stale = sorted(RULES.keys() - documented)
    assert not stale, f"these endpoints are gone from the documents: {stale}"


def test_only_health_and_sign_in_are_public() -> None:
    assert {key for key, rule in RULES.items() if rule.public} == PUBLIC


@pytest.mark.parametrize("endpoint", PROTECTED, ids=str)
async def test_every_endpoint_refuses_a_request_without_a_token(trial, endpoint) -> None:
    response = await _call(trial, endpoint, {})
    assert_refused(response, endpoint, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("forgery", FORGERIES)
@pytest.mark.parametrize("endpoint", PROTECTED, ids=str)
async def test_every_endpoint_refuses_a_forged_or_stale_token(trial, endpoint, forgery) -> None:
    token = FORGERIES[forgery](endpoint.service)
    response = await _call(trial, endpoint, {"Authorization": f"Bearer {token}"})
    assert_refused(response, endpoint, 401)
