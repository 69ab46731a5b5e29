"""Scope on every endpoint: the read-only monitor cannot write anywhere (403); staff of one site
asking for another site's subject, patient, alert, event, observation or response get 404 exactly
like missing data, and lists and reports show them nothing of the other site; a patient naming
another patient gets 404."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.endpoints import Endpoint, classified
from tests.security.test_authentication_matrix import assert_refused
from tests.security.world import request_for
from tests.support.tokens import TokenFactory

tokens = TokenFactory()

WRITES = classified(lambda e: not e.rule.public and e.writes)
NAMES_A_RESOURCE = classified(lambda e: e.rule.owner is not None)
LISTINGS = classified(lambda e: e.rule.listing)
PATIENT_NAMES_SUBJECT = classified(lambda e: e.rule.patient_names_subject)


def _headers(endpoint: Endpoint, role: str, world: dict[str, str]) -> dict[str, str]:
    if role == "trial_admin" or role == "monitor":
        return tokens.headers(role, aud=endpoint.service)
    pid = world.get("patient_id") if role == "patient" else None
    return tokens.headers(role, site=world["site_id"], pid=pid, aud=endpoint.service)


async def _call(
    trial: dict[str, Any], endpoint: Endpoint, caller_site: str, data_site: str, role: str
) -> Any:
    worlds = trial["worlds"]
    caller_world = worlds[caller_site][endpoint.service]
    args = request_for(endpoint, worlds[data_site][endpoint.service])
    client = trial["clients"][endpoint.service]
    return await client.request(**args, headers=_headers(endpoint, role, caller_world))


@pytest.mark.parametrize("endpoint", WRITES, ids=str)
async def test_the_read_only_monitor_cannot_write_anywhere(trial, endpoint) -> None:
    response = await _call(trial, endpoint, "A", "A", "monitor")
    assert_refused(response, endpoint, 403)


@pytest.mark.parametrize("endpoint", NAMES_A_RESOURCE, ids=str)
async def test_another_sites_staff_get_404_for_every_resource(trial, endpoint) -> None:
    role = endpoint.rule.caller
    response = await _call(trial, endpoint, "A", "B", role)
    if endpoint.rule.transaction:
        assert_refused(response, endpoint, 422)
        assert "not-found" in {issue["code"] for issue in response.json()["issue"]}
    else:
        assert_refused(response, endpoint, 404)
    # The same request from site B's own staff finds it: the 404 above is scope, not a bad id.
    own = await _call(trial, endpoint, "B", "B", role)
    assert own.status_code != 404, f"{endpoint}: {own.text}"


@pytest.mark.parametrize("endpoint", LISTINGS, ids=str)
async def test_lists_and_reports_show_nothing_of_another_site(trial, endpoint) -> None:
    response = await _call(trial, endpoint, "A", "B", "site_staff")
    if response.status_code == 404:
        assert_refused(response, endpoint, 404)
        return
    assert response.status_code == 200, f"{endpoint}: {response.text}"
    other = trial["worlds"]["B"][endpoint.service]
    assert other["site_id"] not in response.text
    assert other["subject_id"] not in response.text


@pytest.mark.parametrize("endpoint", PATIENT_NAMES_SUBJECT, ids=str)
async def test_a_patient_naming_another_patient_gets_404(trial, endpoint) -> None:
    worlds = trial["worlds"]
    own = worlds["A"][endpoint.service]
    other_at_same_site = {**own, "subject_id": own["other_subject_id"]}
    for data in (other_at_same_site, worlds["B"][endpoint.service]):
        args = request_for(endpoint, data)
        headers = _headers(endpoint, "patient", own)
        response = await trial["clients"][endpoint.service].request(**args, headers=headers)
        assert_refused(response, endpoint, 404)
