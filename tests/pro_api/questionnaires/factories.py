"""Arrange helpers for the questionnaire API tests: an enrolled patient whose timepoints sit
where a test needs them relative to today (the API uses the real clock), and answer sets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from services.pro_api.instruments.schedule import add_months
from tests.support.factories import create_site, insert_patient
from tests.support.tokens import TokenFactory

TZ = "America/New_York"
C30_GLOBAL_ITEMS = (29, 30)


def local_today(timezone: str = TZ) -> dt.date:
    return dt.datetime.now(ZoneInfo(timezone)).date()


def months_before(due: dt.date, months: int) -> dt.date | None:
    """A C1D1 whose ``months`` timepoint falls exactly on ``due``, if the calendar allows one
    (no C1D1 puts M3 on 31 May: 31 February does not exist)."""
    for back in range(31 * months + 3, 28 * months - 3, -1):
        start = due - dt.timedelta(days=back)
        if add_months(start, months) == due:
            return start
    return None


def start_for_offset(days_from_due: int, timezone: str = TZ) -> tuple[str, dt.date]:
    """(timepoint, C1D1) so that today is ``days_from_due`` days from that timepoint's due date:
    M3 when the calendar allows, else M12 (same month a year earlier always exists)."""
    due = local_today(timezone) - dt.timedelta(days=days_from_due)
    for code, months in (("M3", 3), ("M12", 12)):
        start = months_before(due, months)
        if start is not None:
            return code, start
    raise AssertionError(f"no C1D1 puts M3 or M12 on {due}")


def answers(code: int = 1, global_code: int = 7, *, skip: tuple[int, ...] = ()) -> dict[str, int]:
    """Every item 1-51 answered ``code`` (items 29-30 ``global_code``), minus ``skip``."""
    out = {}
    for number in range(1, 52):
        if number in skip:
            continue
        out[str(number)] = global_code if number in C30_GLOBAL_ITEMS else code
    return out


@dataclass
class Enrolled:
    site_id: str
    patient_id: str
    subject_id: str
    headers: dict[str, str]  # the patient's own token
    staff: dict[str, str]  # site_staff of the patient's site


async def enrol(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    *,
    treatment_start: dt.date | None = None,
    site_id: str | None = None,
    **patient: Any,
) -> Enrolled:
    site_id = site_id or await create_site(client, tokens, aud="pro_api")
    start = treatment_start or local_today()
    patient_id = await insert_patient(
        client,
        site_id=site_id,
        treatment_start=start.isoformat(),
        **patient,
    )
    from services.pro_api.models import Patient

    async with client.app.state.db.sessionmaker() as session:  # type: ignore[attr-defined]
        subject_id = (await session.get(Patient, patient_id)).subject_id  # type: ignore[union-attr]
    return Enrolled(
        site_id=site_id,
        patient_id=patient_id,
        subject_id=subject_id,
        headers=tokens.headers("patient", site=site_id, pid=patient_id, aud="pro_api"),
        staff=tokens.headers("site_staff", site=site_id, aud="pro_api"),
    )


async def submit(
    client: httpx.AsyncClient,
    who: Enrolled,
    timepoint: str = "baseline",
    body_answers: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body = {
        "instrument": "eortc-net",
        "timepoint": timepoint,
        "answers": answers() if body_answers is None else body_answers,
        **extra,
    }
    return await client.post(
        "/v1/me/questionnaire-responses", json=body, headers={**who.headers, **(headers or {})}
    )
