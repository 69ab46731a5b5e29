"""Arrange steps for patient and sign-in tests: enrol through the API, activate from a client
address of the test's own (so one test's wrong guesses never spend another test's budget)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import select, update

from services.pro_api.models import ActivationCode, Patient, RefreshToken
from tests.support.factories import create_site, new_subject_id
from tests.support.tokens import TokenFactory


def enrolment(subject_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject_id": subject_id,
        "timezone": "America/New_York",
        "language": "en",
        "treatment_start": "2026-01-05",
        "regimen": {"capecitabine_mg": 1500, "temozolomide_mg": 300},
        "tare_dates": ["2026-02-08"],
    }
    body.update(overrides)
    return body


def staff(tokens: TokenFactory, site_id: str, role: str = "site_staff") -> dict[str, str]:
    return tokens.headers(role, site=site_id, aud="pro_api")


async def pro_site(pro: httpx.AsyncClient, tokens: TokenFactory) -> str:
    return await create_site(pro, tokens, aud="pro_api")


async def enrol(
    pro: httpx.AsyncClient,
    tokens: TokenFactory,
    site_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Enrol a patient (at a new site unless one is given); the 201 body."""
    site_id = site_id or await pro_site(pro, tokens)
    subject_id = overrides.pop("subject_id", None) or new_subject_id(site_id)
    response = await pro.post(
        "/v1/patients", json=enrolment(subject_id, **overrides), headers=staff(tokens, site_id)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def new_client_ip() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@asynccontextmanager
async def from_address(pro: httpx.AsyncClient, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same running app whose requests come from ``ip``."""
    transport = httpx.ASGITransport(app=pro.app, client=(ip, 40000))  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def activate(pro: httpx.AsyncClient, code: str, *, ip: str | None = None) -> httpx.Response:
    async with from_address(pro, ip or new_client_ip()) as client:
        return await client.post("/v1/auth/activate", json={"activation_code": code})


async def signed_in(
    pro: httpx.AsyncClient, tokens: TokenFactory, site_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An enrolled patient who has activated their phone: (enrolment body, token pair)."""
    patient = await enrol(pro, tokens, site_id)
    response = await activate(pro, patient["activation_code"])
    assert response.status_code == 200, response.text
    return patient, response.json()


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


async def refresh(pro: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await pro.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


def db_of(client: httpx.AsyncClient) -> Any:
    return client.app.state.db  # type: ignore[attr-defined]


async def expire_activation_codes(pro: httpx.AsyncClient, patient_id: str) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    async with db_of(pro).sessionmaker() as session:
        await session.execute(
            update(ActivationCode)
            .where(ActivationCode.patient_id == patient_id)  # type: ignore[arg-type]
            .values(expires_at=past)
        )
        await session.commit()


async def expire_refresh_tokens(pro: httpx.AsyncClient, patient_id: str) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    async with db_of(pro).sessionmaker() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.patient_id == patient_id)  # type: ignore[arg-type]
            .values(expires_at=past)
        )
        await session.commit()


async def refresh_tokens_of(pro: httpx.AsyncClient, patient_id: str) -> list[RefreshToken]:
    async with db_of(pro).sessionmaker() as session:
        rows = await session.execute(
            select(RefreshToken).where(RefreshToken.patient_id == patient_id)  # type: ignore[arg-type]
        )
        return list(rows.scalars())


async def patients_with_subject(pro: httpx.AsyncClient, subject_id: str) -> list[Patient]:
    async with db_of(pro).sessionmaker() as session:
        rows = await session.execute(
            select(Patient).where(Patient.subject_id == subject_id)  # type: ignore[arg-type]
        )
        return list(rows.scalars())


async def audit_events(pro: httpx.AsyncClient, entity_id: str) -> list[dict[str, Any]]:
    table = pro.app.state.tables.audit_events  # type: ignore[attr-defined]
    async with db_of(pro).sessionmaker() as session:
        rows = await session.execute(
            select(table).where(table.c.entity_id == entity_id).order_by(table.c.id)
        )
        return [dict(r) for r in rows.mappings()]


async def subject_upserts(pro: httpx.AsyncClient, subject_id: str) -> list[dict[str, Any]]:
    """The safety.subject.upsert outbox messages about one subject, oldest first."""
    om = pro.app.state.tables.outbox_messages  # type: ignore[attr-defined]
    async with db_of(pro).sessionmaker() as session:
        rows = await session.execute(
            select(om).where(om.c.kind == "safety.subject.upsert").order_by(om.c.created_at)
        )
        return [dict(r) for r in rows.mappings() if r["payload"]["subject_id"] == subject_id]
