"""Arrange through the public APIs of the running services, as the site and its lab would."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.e2e.conftest import Servers, unique

TIMEZONE = "America/New_York"


@dataclass(frozen=True)
class Patient:
    id: str
    subject_id: str
    site_id: str
    activation_code: str


def create_site(servers: Servers) -> str:
    site = unique("e2e")
    for url, aud in ((servers.pro, "pro_api"), (servers.safety, "safety_api")):
        response = httpx.put(
            f"{url}/v1/sites/{site}",
            json={"name": f"E2E site {site}", "timezone": TIMEZONE},
            headers=servers.headers("trial_admin", aud=aud),
        )
        assert response.status_code in (200, 201), response.text
    return site


def local_today() -> dt.date:
    return dt.datetime.now(ZoneInfo(TIMEZONE)).date()


def enrol_patient(servers: Servers, site: str) -> Patient:
    """Treatment starts today, so today has two capecitabine doses and baseline is open."""
    subject = f"{site}-{unique('')[:4]}"
    response = httpx.post(
        f"{servers.pro}/v1/patients",
        json={
            "subject_id": subject,
            "timezone": TIMEZONE,
            "language": "en",
            "treatment_start": local_today().isoformat(),
            "regimen": {"capecitabine_mg": 1500, "temozolomide_mg": 300},
            "tare_dates": [],
        },
        headers=servers.headers("site_staff", aud="pro_api", site=site),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Patient(body["id"], body["subject_id"], site, body["activation_code"])


def staff_get(servers: Servers, site: str, path: str, *, aud: str = "pro_api") -> Any:
    base = servers.pro if aud == "pro_api" else servers.safety
    response = httpx.get(f"{base}{path}", headers=servers.headers("site_staff", aud=aud, site=site))
    assert response.status_code == 200, response.text
    return response.json()


def save_draft(servers: Servers, patient: Patient, answers: dict[str, int]) -> None:
    response = httpx.put(
        f"{servers.pro}/v1/me/questionnaire-responses/baseline/draft",
        json={"instrument": "eortc-net", "answers": answers},
        headers=servers.headers("patient", aud="pro_api", site=patient.site_id, pid=patient.id),
    )
    assert response.status_code in (200, 201), response.text


def subject_with_hys_law_alert(servers: Servers, site: str) -> str:
    """A subject at the site whose ALT 5 x ULN and bilirubin 3 x ULN raise a Hy's law alert."""
    subject = f"{site}-{unique('')[:4]}"
    staff = servers.headers("site_staff", aud="safety_api", site=site)
    start = local_today() - dt.timedelta(days=20)
    response = httpx.put(
        f"{servers.safety}/v1/subjects/{subject}",
        json={"site_id": site, "treatment_start": start.isoformat(), "tare_dates": []},
        headers=staff,
    )
    assert response.status_code in (200, 201), response.text
    collected = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).isoformat()
    for alt, bili, when in (
        (45, 1.0, start.isoformat() + "T09:00:00-05:00"),
        (200, 3.6, collected),
    ):
        response = httpx.post(
            f"{servers.safety}/v1/labs",
            json={
                "subject_id": subject,
                "collected_at": when,
                "results": [
                    {"analyte": "ALT", "value": alt, "unit": "U/L", "ref_low": 7, "ref_high": 40},
                    {
                        "analyte": "BILI",
                        "value": bili,
                        "unit": "mg/dL",
                        "ref_low": 0.1,
                        "ref_high": 1.2,
                    },
                ],
            },
            headers=servers.headers("ehr_client", aud="safety_api", site=site),
        )
        assert response.status_code == 201, response.text
    return subject
