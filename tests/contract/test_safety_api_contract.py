"""safety_api honours its OpenAPI document: for anonymous callers, the sponsor's data manager
and a seeded site's staff, no request generated from the document gets a 5xx, an undocumented
status or a body that does not match the documented schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.common.settings import Settings
from tests.contract.harness import check_operation, load_schema, operation_labels
from tests.support.apps import build_app, running_client
from tests.support.factories import create_site, insert_subject
from tests.support.tokens import TokenFactory

SERVICE = "safety_api"
OPERATIONS = list(operation_labels(build_app(SERVICE, Settings(env="test")).openapi()))
CALLERS = ["anonymous", "trial_admin", "site_staff"]


@pytest.fixture(scope="module")
async def seeded(settings: Settings) -> AsyncIterator[dict[str, str]]:
    tokens = TokenFactory()
    async with running_client(SERVICE, settings) as client:
        site_id = await create_site(client, tokens, aud=SERVICE)
        subject_id = await insert_subject(client, site_id=site_id)
    yield {"site_id": site_id, "subject_id": subject_id}


@pytest.fixture(scope="module")
def schema(settings: Settings) -> Any:
    return load_schema(build_app(SERVICE, settings))


def _caller(name: str, site_id: str) -> dict[str, str]:
    tokens = TokenFactory()
    if name == "anonymous":
        return {}
    return tokens.headers(name, site=site_id if name == "site_staff" else None, aud=SERVICE)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_response_matches_the_document(
    schema: Any, seeded: dict[str, str], operation: str, caller: str
) -> None:
    check_operation(schema, operation, _caller(caller, seeded["site_id"]), seeded)
