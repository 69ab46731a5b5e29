"""Arrange helpers for the AE record: subjects through the API, symptom reports, and lab-graded
occurrences written the way lab ingestion records them (``record_occurrences``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from services.safety_api.ctcae import grade_lab
from tests.support.factories import create_site, new_subject_id
from tests.support.tokens import TokenFactory

C1D1 = "2026-01-05"  # a Monday; the sites' zone is America/New_York


def local_noon(day: str) -> str:
    return f"{day}T12:00:00-05:00"


def day_of_treatment(n: int, c1d1: str = C1D1) -> str:
    """The date of treatment day n (C1D1 is day 1)."""
    return (dt.date.fromisoformat(c1d1) + dt.timedelta(days=n - 1)).isoformat()


async def site_with_subject(
    client: httpx.AsyncClient, tokens: TokenFactory, **subject: Any
) -> tuple[str, str]:
    site_id = await create_site(client, tokens, aud="safety_api")
    subject_id = await put_subject(client, tokens, site_id, **subject)
    return site_id, subject_id


async def put_subject(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    site_id: str,
    subject_id: str | None = None,
    **fields: Any,
) -> str:
    subject_id = subject_id or new_subject_id(site_id)
    body = {"site_id": site_id, "treatment_start": C1D1, "tare_dates": [], **fields}
    response = await client.put(
        f"/v1/subjects/{subject_id}", json=body, headers=tokens.headers("service")
    )
    assert response.status_code in (200, 201), response.text
    return subject_id


async def report_symptoms(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    subject_id: str,
    report: dict[str, Any],
    *,
    day: str = C1D1,
    source: str = "diary",
) -> dict[str, Any]:
    response = await client.post(
        "/v1/symptom-reports",
        json={
            "subject_id": subject_id,
            "reported_at": local_noon(day),
            "source": source,
            "report": report,
        },
        headers=tokens.headers("service"),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def record_lab(
    client: httpx.AsyncClient,
    subject_id: str,
    *,
    analyte: str,
    value: float,
    unit: str,
    ref_high: float | None = None,
    ref_low: float | None = None,
    day: str = C1D1,
) -> str:
    """A lab-graded occurrence, recorded as lab ingestion records it; returns its event id."""
    from services.safety_api.adverse_events.recording import Occurrence, record_occurrences
    from services.safety_api.models import Subject

    result = grade_lab(analyte, value, unit, ref_low=ref_low, ref_high=ref_high)
    assert result is not None
    async with client.app.state.db.sessionmaker() as session:  # type: ignore[attr-defined]
        subject = await session.get(Subject, subject_id)
        assert subject is not None
        [event_id] = await record_occurrences(
            session,
            subject,
            [Occurrence(result, f"lab-{analyte}-{day}")],
            occurred_at=dt.datetime.fromisoformat(local_noon(day)),
            timezone="America/New_York",
            source_kind="lab",
            patient_reported=False,
        )
        await session.commit()
        return event_id


def term_of(record: dict[str, Any], term: str) -> dict[str, Any]:
    [found] = [t for t in record["terms"] if t["term"] == term]
    return found


def cycle_of_term(record: dict[str, Any], term: str, cycle: int) -> dict[str, Any]:
    [found] = [c for c in term_of(record, term)["cycles"] if c["cycle"] == cycle]
    return found
