"""Arrange steps for the diary API tests: a patient on a known calendar, the service's clock put
at a chosen local time (``diary_clock`` override), and diary days as a phone would send them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from services.pro_api.diary.router import diary_clock
from tests.support.factories import create_site, insert_patient
from tests.support.tokens import TokenFactory

NEW_YORK = "America/New_York"


@dataclass
class DiaryPatient:
    site_id: str
    patient_id: str
    subject_id: str
    timezone: str
    headers: dict[str, str]  # the patient's own token


async def diary_patient(
    pro: httpx.AsyncClient,
    tokens: TokenFactory,
    *,
    treatment_start: str,
    site_id: str | None = None,
    timezone: str = NEW_YORK,
    status: str = "active",
) -> DiaryPatient:
    site_id = site_id or await create_site(pro, tokens, aud="pro_api")
    patient_id = await insert_patient(
        pro, site_id=site_id, treatment_start=treatment_start, timezone=timezone, status=status
    )
    async with pro.app.state.db.sessionmaker() as session:  # type: ignore[attr-defined]
        from services.pro_api.models import Patient

        patient = (
            await session.execute(select(Patient).where(Patient.id == patient_id))  # type: ignore[arg-type]
        ).scalar_one()
        subject_id = patient.subject_id
    headers = tokens.headers("patient", site=site_id, pid=patient_id, aud="pro_api")
    return DiaryPatient(site_id, patient_id, subject_id, timezone, headers)


def staff(tokens: TokenFactory, site_id: str, role: str = "site_staff") -> dict[str, str]:
    return tokens.headers(role, site=site_id, aud="pro_api")


def local(when: str, timezone: str = NEW_YORK) -> dt.datetime:
    """An aware instant from a local wall-clock time, e.g. ``local("2026-03-08 23:30")``."""
    return dt.datetime.fromisoformat(when).replace(tzinfo=ZoneInfo(timezone))


def set_clock(client: httpx.AsyncClient, now: dt.datetime) -> None:
    client.app.dependency_overrides[diary_clock] = lambda: now  # type: ignore[attr-defined]


def dose(drug: str, slot: str, taken: bool = True, **extra: Any) -> dict[str, Any]:
    return {"drug": drug, "slot": slot, "taken": taken, **extra}


def capecitabine_day(taken: bool = True) -> dict[str, Any]:
    return {
        "doses": [dose("capecitabine", "morning", taken), dose("capecitabine", "evening", taken)]
    }


async def put_day(
    client: httpx.AsyncClient,
    patient: DiaryPatient,
    day: str,
    body: dict[str, Any] | None = None,
    *,
    at: dt.datetime | None = None,
    key: str | None = None,
) -> httpx.Response:
    if at is not None:
        set_clock(client, at)
    headers = dict(patient.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.put(
        f"/v1/me/diary/{day}", json=body if body is not None else {}, headers=headers
    )


async def outbox_messages(client: httpx.AsyncClient, kind: str) -> list[dict[str, Any]]:
    om = client.app.state.tables.outbox_messages  # type: ignore[attr-defined]
    async with client.app.state.db.sessionmaker() as session:  # type: ignore[attr-defined]
        rows = await session.execute(select(om).where(om.c.kind == kind).order_by(om.c.created_at))
        return [dict(r) for r in rows.mappings()]
