"""Arrange helpers for lab ingestion tests: a subject at its own site, lab payloads, FHIR
Observations, and reading back what was stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select

from services.safety_api.models import AdverseEvent, LabResult
from tests.support.factories import create_site, insert_subject
from tests.support.tokens import TokenFactory

ALT_GRADE_2 = {"analyte": "ALT", "value": 130, "unit": "U/L", "ref_low": 7, "ref_high": 40}
PLATELETS_GRADE_2 = {"loinc": "777-3", "value": 62, "unit": "10*3/uL", "ref_low": 150}
FHIR_JSON = {"Content-Type": "application/fhir+json"}


async def subject_at_new_site(
    client: httpx.AsyncClient, tokens: TokenFactory, **subject: Any
) -> tuple[str, str]:
    """(site_id, subject_id) of a new subject at a new site."""
    site_id = await create_site(client, tokens, aud="safety_api")
    return site_id, await insert_subject(client, site_id=site_id, **subject)


def hours_ago(hours: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).isoformat()


def observation(
    subject_id: str | None,
    *,
    id: str | None = None,
    loinc: str = "1742-6",
    value: float = 130,
    unit: str = "U/L",
    low: float | None = 7,
    high: float | None = 40,
    effective: str | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "effectiveDateTime": effective or hours_ago(2),
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }
    if id is not None:
        resource["id"] = id
    if subject_id is not None:
        resource["subject"] = {"identifier": {"value": subject_id}}
    limits = {k: {"value": v, "code": unit} for k, v in (("low", low), ("high", high)) if v}
    if limits:
        resource["referenceRange"] = [limits]
    return resource


def bundle(kind: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {
                "fullUrl": f"urn:uuid:00000000-0000-0000-0000-{index:012d}",
                "resource": resource,
                "request": {"method": "POST", "url": "Observation"},
            }
            for index, resource in enumerate(resources)
        ],
    }


async def stored_labs(client: httpx.AsyncClient, subject_id: str) -> list[LabResult]:
    async with client.app.state.db.sessionmaker() as session:  # type: ignore[attr-defined]
        query = (
            select(LabResult).where(LabResult.subject_id == subject_id).order_by(LabResult.analyte)
        )
        return list((await session.execute(query)).scalars())


async def stored_adverse_events(client: httpx.AsyncClient, subject_id: str) -> list[AdverseEvent]:
    async with client.app.state.db.sessionmaker() as session:  # type: ignore[attr-defined]
        query = select(AdverseEvent).where(AdverseEvent.subject_id == subject_id)
        return list((await session.execute(query)).scalars())


async def audit_events(
    client: httpx.AsyncClient, action: str, subject_id: str
) -> list[dict[str, Any]]:
    table = client.app.state.tables.audit_events  # type: ignore[attr-defined]
    async with client.app.state.db.sessionmaker() as session:  # type: ignore[attr-defined]
        rows = (await session.execute(select(table).where(table.c.action == action))).mappings()
        return [dict(r) for r in rows if (r["after"] or {}).get("subject_id") == subject_id]
