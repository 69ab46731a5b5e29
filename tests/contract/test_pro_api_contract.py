"""pro_api honours its OpenAPI document: for anonymous callers, the sponsor's data manager, a
seeded site's staff and an enrolled patient, no request generated from the document gets a 5xx,
an undocumented status or a body that does not match the documented schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.common.settings import Settings
from tests.contract.harness import check_operation, load_schema, operation_labels
from tests.support.apps import build_app, running_client
from tests.support.factories import create_site, insert_patient
from tests.support.tokens import TokenFactory

SERVICE = "pro_api"
OPERATIONS = list(operation_labels(build_app(SERVICE, Settings(env="test")).openapi()))
CALLERS = ["anonymous", "trial_admin", "site_staff", "patient"]


@pytest.fixture(scope="module")
async def seeded(settings: Settings) -> AsyncIterator[dict[str, str]]:
    tokens = TokenFactory()
    async with running_client(SERVICE, settings) as client:
        site_id = await create_site(client, tokens, aud=SERVICE)
        patient_id = await insert_patient(client, site_id=site_id)
    yield {"site_id": site_id, "patient_id": patient_id}


@pytest.fixture(scope="module")
def schema(settings: Settings) -> Any:
    return load_schema(build_app(SERVICE, settings))


def _caller(name: str, seeded: dict[str, str]) -> dict[str, str]:
    tokens = TokenFactory()
    if name == "anonymous":
        return {}
    if name == "trial_admin":
        return tokens.headers(name, aud=SERVICE)
    pid = seeded["patient_id"] if name == "patient" else None
    return tokens.headers(name, site=seeded["site_id"], pid=pid, aud=SERVICE)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_response_matches_the_document(
    schema: Any, seeded: dict[str, str], operation: str, caller: str
) -> None:
    check_operation(schema, operation, _caller(caller, seeded), seeded)
