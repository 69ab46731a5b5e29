"""Two sites with data in both services: a subject with a graded lab, an open alert and a stored
Observation (safety_api); an enrolled patient with a completed baseline questionnaire
(pro_api). Values are placeholders for ``endpoints.fill`` and path templates."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from services.common.settings import Settings
from tests.pro_api.questionnaires.factories import local_today
from tests.security.endpoints import ANSWERS, Endpoint, fill, observation
from tests.support.apps import running_client
from tests.support.factories import create_site, insert_patient, new_subject_id
from tests.support.tokens import TokenFactory

World = dict[str, str]


async def _safety_site(client: httpx.AsyncClient, tokens: TokenFactory) -> World:
    site = await create_site(client, tokens, aud="safety_api")
    subject = new_subject_id(site)
    service = tokens.headers("service")
    put = await client.put(
        f"/v1/subjects/{subject}",
        json={"site_id": site, "treatment_start": "2026-01-05"},
        headers=service,
    )
    assert put.status_code == 201, put.text
    ehr = tokens.headers("ehr_client", site=site)
    now = dt.datetime.now(dt.UTC).isoformat()
    labs = await client.post(
        "/v1/labs",
        json={
            "subject_id": subject,
            "collected_at": now,
            "results": [
                {"analyte": "ALT", "value": 600, "unit": "U/L", "ref_low": 7, "ref_high": 40}
            ],
        },
        headers=ehr,
    )
    assert labs.status_code == 201, labs.text
    stored = await client.post("/fhir/Observation", json=observation(subject), headers=ehr)
    assert stored.status_code == 201, stored.text
    staff = tokens.headers("site_staff", site=site)
    alerts = (await client.get("/v1/alerts", params={"subject_id": subject}, headers=staff)).json()
    record = (await client.get(f"/v1/subjects/{subject}/adverse-events", headers=staff)).json()
    return {
        "site_id": site,
        "subject_id": subject,
        "alert_id": alerts["alerts"][0]["id"],
        "event_id": record["events"][0]["id"],
        "observation_id": stored.json()["id"],
    }


async def _pro_site(client: httpx.AsyncClient, tokens: TokenFactory) -> World:
    site = await create_site(client, tokens, aud="pro_api")
    # Treatment starts today where the patient lives, so the baseline window is open now.
    patient = await insert_patient(client, site_id=site, treatment_start=local_today().isoformat())
    own = tokens.headers("patient", site=site, pid=patient, aud="pro_api")
    submitted = await client.post(
        "/v1/me/questionnaire-responses",
        json={"instrument": "eortc-net", "timepoint": "baseline", "answers": ANSWERS},
        headers=own,
    )
    assert submitted.status_code == 201, submitted.text
    staff = tokens.headers("site_staff", site=site, aud="pro_api")
    found = (await client.get(f"/v1/patients/{patient}", headers=staff)).json()
    # A second patient at the same site: "another patient" need not be at another site.
    neighbour = await insert_patient(client, site_id=site)
    neighbour_record = await client.get(f"/v1/patients/{neighbour}", headers=staff)
    return {
        "site_id": site,
        "other_subject_id": neighbour_record.json()["subject_id"],
        "patient_id": patient,
        "subject_id": found["subject_id"],
        "response_id": submitted.json()["id"],
    }


def _common(world: World) -> World:
    return {
        **world,
        "timepoint": "baseline",
        "code": "eortc-net",
        "id": "eortc-net",
        "now": dt.datetime.now(dt.UTC).isoformat(),
        "date": dt.date.today().isoformat(),
        "later": (dt.date.today() + dt.timedelta(days=40)).isoformat(),
    }


@asynccontextmanager
async def two_sites(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    """Running clients for both services and the seeded worlds of sites A and B."""
    tokens = TokenFactory()
    async with (
        running_client("pro_api", settings) as pro,
        running_client("safety_api", settings) as safety,
    ):
        worlds = {
            name: {
                "pro_api": _common(await _pro_site(pro, tokens)),
                "safety_api": _common(await _safety_site(safety, tokens)),
            }
            for name in ("A", "B")
        }
        yield {"clients": {"pro_api": pro, "safety_api": safety}, "worlds": worlds}


def request_for(endpoint: Endpoint, world: World) -> dict[str, Any]:
    """Method, URL, query and body of a proper call of ``endpoint`` on ``world``'s data."""
    rule = endpoint.rule
    args: dict[str, Any] = {
        "method": endpoint.method,
        "url": endpoint.path.format(**world),
        "params": fill(rule.query, world),
    }
    if endpoint.method in ("POST", "PUT", "PATCH"):
        args["json"] = fill(rule.body, world) if rule.body is not None else {}
    return args
