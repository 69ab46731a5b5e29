"""Request bodies over the configured size are refused with 413 on both services, JSON and FHIR
alike, whether the client declares the length or streams the body in chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import make_settings
from tests.support.tokens import TokenFactory

LIMIT = 4_000
OVERSIZED = b'{"padding": "' + b"x" * (LIMIT * 2) + b'"}'

ENDPOINTS = [
    ("pro_api", "POST", "/v1/patients", "application/json", "site_staff"),
    ("pro_api", "POST", "/v1/me/questionnaire-responses", "application/json", "patient"),
    ("pro_api", "POST", "/fhir/QuestionnaireResponse", "application/fhir+json", "patient"),
    ("pro_api", "POST", "/v1/auth/activate", "application/json", None),
    ("safety_api", "POST", "/v1/labs", "application/json", "ehr_client"),
    ("safety_api", "POST", "/v1/grade", "application/json", "site_staff"),
    ("safety_api", "POST", "/fhir/Observation", "application/fhir+json", "ehr_client"),
    ("safety_api", "POST", "/fhir", "application/fhir+json", "ehr_client"),
]


@pytest.fixture
async def small_limit(client_for, database_urls, tmp_path):
    settings = make_settings(database_urls, tmp_path, max_request_bytes=LIMIT)
    return {
        service: await client_for(service, app_settings=settings)
        for service in ("pro_api", "safety_api")
    }


def _headers(service: str, role: str | None, media_type: str) -> dict[str, str]:
    headers = {"Content-Type": media_type}
    if role is not None:
        token = TokenFactory()(
            role, site="s1", pid="p1" if role == "patient" else None, aud=service
        )
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _assert_413(response, path: str) -> None:
    assert response.status_code == 413, response.text
    media_type = response.headers["content-type"].split(";")[0]
    if media_type == "application/fhir+json":
        assert path.startswith("/fhir") and response.json()["resourceType"] == "OperationOutcome"
    else:
        assert media_type == "application/problem+json"
        assert f"{LIMIT:,} bytes" in response.json()["detail"]


@pytest.mark.parametrize(("service", "method", "path", "media_type", "role"), ENDPOINTS)
async def test_an_oversized_body_is_413(small_limit, service, method, path, media_type, role):
    response = await small_limit[service].request(
        method, path, content=OVERSIZED, headers=_headers(service, role, media_type)
    )
    _assert_413(response, path)


@pytest.mark.parametrize(("service", "method", "path", "media_type", "role"), ENDPOINTS)
async def test_an_oversized_chunked_body_is_413(
    small_limit, service, method, path, media_type, role
):
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(OVERSIZED), 1000):
            yield OVERSIZED[start : start + 1000]

    response = await small_limit[service].request(
        method, path, content=chunks(), headers=_headers(service, role, media_type)
    )
    _assert_413(response, path)


async def test_a_body_within_the_limit_is_read(small_limit) -> None:
    response = await small_limit["safety_api"].post(
        "/v1/grade",
        json={"kind": "lab", "analyte": "ALT", "value": 50, "unit": "U/L", "ref_high": 40},
        headers=_headers("safety_api", "site_staff", "application/json"),
    )
    assert response.status_code == 200, response.text
