"""Factories: unique ids so tests sharing a database never collide."""

from __future__ import annotations

import uuid

import httpx

from tests.support.tokens import TokenFactory


def new_site_id() -> str:
    return "s" + uuid.uuid4().hex[:10]


async def create_site(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    *,
    aud: str,
    site_id: str | None = None,
    timezone: str = "America/New_York",
) -> str:
    site_id = site_id or new_site_id()
    response = await client.put(
        f"/v1/sites/{site_id}",
        json={"name": f"Site {site_id}", "timezone": timezone},
        headers=tokens.headers("trial_admin", aud=aud),
    )
    assert response.status_code == 201, response.text
    return site_id


def new_subject_id(site_id: str) -> str:
    return f"{site_id}-{uuid.uuid4().hex[:6]}"


async def insert_subject(
    client: httpx.AsyncClient,
    *,
    site_id: str,
    subject_id: str | None = None,
    treatment_start: str = "2026-01-05",
    tare_dates: list[str] | None = None,
) -> str:
    """A safety_api subject written straight to the database (arrange step for tests that are
    not about the subjects endpoint)."""
    import datetime as dt

    from services.common.db import utcnow
    from services.safety_api.models import Subject

    subject_id = subject_id or new_subject_id(site_id)
    async with client.app.state.db.sessionmaker() as session:  # type: ignore[attr-defined]
        now = utcnow()
        session.add(
            Subject(
                id=subject_id,
                site_id=site_id,
                treatment_start=dt.date.fromisoformat(treatment_start),
                tare_dates=tare_dates or [],
                cycle_starts=[],
                baseline={},
                created_at=now,
                updated_at=now,
            )
        )
        await session.commit()
    return subject_id


async def insert_patient(
    client: httpx.AsyncClient,
    *,
    site_id: str,
    subject_id: str | None = None,
    treatment_start: str | None = None,
    enrolled_on: str | None = None,
    timezone: str = "America/New_York",
    language: str = "en",
    status: str = "active",
    status_changed_at: str | None = None,
) -> str:
    """A pro_api patient written straight to the database (arrange step for tests that are not
    about enrolment). Treatment starts today and enrolment is on the same day unless given."""
    import datetime as dt
    import uuid as _uuid

    from services.common.db import utcnow
    from services.pro_api.models import Patient

    today = dt.date.today()
    start = dt.date.fromisoformat(treatment_start) if treatment_start else today
    patient_id = str(_uuid.uuid4())
    async with client.app.state.db.sessionmaker() as session:  # type: ignore[attr-defined]
        now = utcnow()
        session.add(
            Patient(
                id=patient_id,
                subject_id=subject_id or new_subject_id(site_id),
                site_id=site_id,
                timezone=timezone,
                language=language,
                treatment_start=start,
                enrolled_on=dt.date.fromisoformat(enrolled_on) if enrolled_on else start,
                regimen={"capecitabine_mg": 1500, "temozolomide_mg": 300},
                tare_dates=[],
                status=status,
                status_changed_at=(
                    dt.datetime.fromisoformat(status_changed_at) if status_changed_at else None
                ),
                created_at=now,
                updated_at=now,
            )
        )
        await session.commit()
    return patient_id
