"""Arrange helpers for alert tests: a site with a webhook pointing at a real local receiver,
subjects, and lab posts through the public API."""

from __future__ import annotations

import base64
import datetime as dt
import os
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.support.factories import create_site, insert_subject

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
async def live_safety(client_for, database_urls, tmp_path):
    """safety_api with its outbox dispatcher running (fast retry schedule)."""
    settings = make_settings(
        database_urls, tmp_path, dispatcher_enabled=True, escalation_interval_s=3600
    )
    return await client_for("safety_api", app_settings=settings)


async def site_with_webhook(client, tokens, receiver_url: str | None) -> str:
    site = await create_site(client, tokens, aud="safety_api")
    if receiver_url is not None:
        response = await client.put(
            f"/v1/sites/{site}/webhook",
            json={"url": receiver_url, "secret": SECRET},
            headers=tokens.headers("site_admin", site=site),
        )
        assert response.status_code == 200, response.text
    return site


def at(day: dt.date, hour: int = 9) -> str:
    return dt.datetime.combine(day, dt.time(hour), dt.UTC).isoformat()


async def post_labs(
    client, tokens, site: str, subject: str, collected: str, *results: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/v1/labs",
        json={"subject_id": subject, "collected_at": collected, "results": list(results)},
        headers=tokens.headers("ehr_client", site=site),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def alt(value: float) -> dict[str, Any]:
    return {"analyte": "ALT", "value": value, "unit": "U/L", "ref_low": 7, "ref_high": 40}


def bili(value: float) -> dict[str, Any]:
    return {"analyte": "BILI", "value": value, "unit": "mg/dL", "ref_low": 0.1, "ref_high": 1.2}


def alp(value: float) -> dict[str, Any]:
    return {"analyte": "ALP", "value": value, "unit": "U/L", "ref_low": 40, "ref_high": 120}


async def alerts_of(client, tokens, site: str, subject: str, rule: str | None = None) -> list[dict]:
    response = await client.get(
        "/v1/alerts",
        params={"subject_id": subject},
        headers=tokens.headers("site_staff", site=site),
    )
    assert response.status_code == 200, response.text
    alerts = response.json()["alerts"]
    return [a for a in alerts if rule is None or a["rule"] == rule]


__all__ = [
    "SECRET",
    "alerts_of",
    "alp",
    "alt",
    "at",
    "bili",
    "insert_subject",
    "post_labs",
    "site_with_webhook",
]
