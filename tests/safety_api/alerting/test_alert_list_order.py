"""GET /v1/alerts pages through a site's alerts in work-queue order, applied before the page
is cut: a site with many old resolved alerts never has a newer open one left off its list."""

from __future__ import annotations

import datetime as dt

from tests.safety_api.alerting.conftest import (
    alt,
    at,
    insert_subject,
    post_labs,
    site_with_webhook,
)

DAY0 = dt.date.today() - dt.timedelta(days=5)
STATUS_RANK = {"open": 0, "acknowledged": 1, "resolved": 2}
SEVERITY_RANK = {"high": 1, "critical": 2}


async def _alert_for_new_subject(safety, tokens, site: str, value: float) -> list[dict]:
    subject = await insert_subject(safety, site_id=site)
    await post_labs(safety, tokens, site, subject, at(DAY0), alt(value))
    response = await safety.get(
        "/v1/alerts",
        params={"subject_id": subject},
        headers=tokens.headers("site_staff", site=site),
    )
    return list(response.json()["alerts"])


async def _pages(safety, headers, limit: int) -> list[list[dict]]:
    pages, offset = [], 0
    while True:
        response = await safety.get(
            "/v1/alerts", params={"limit": limit, "offset": offset}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["alerts"])
        if body["next_offset"] is None:
            return pages
        offset = body["next_offset"]
        assert offset == len(pages) * limit


def _work_queue_key(alert: dict) -> tuple:
    if alert["status"] == "resolved":
        resolved = dt.datetime.fromisoformat(alert["resolved_at"])
        return (2, 0, -resolved.timestamp())
    created = dt.datetime.fromisoformat(alert["created_at"])
    return (STATUS_RANK[alert["status"]], -SEVERITY_RANK[alert["severity"]], created.timestamp())


async def test_a_newer_open_alert_heads_the_first_page_however_many_older_ones_resolved(
    safety, tokens
) -> None:
    site = await site_with_webhook(safety, tokens, None)
    staff = tokens.headers("site_staff", site=site)
    for _ in range(3):  # older alerts, all resolved
        for alert in await _alert_for_new_subject(safety, tokens, site, 250):
            resolved = await safety.post(
                f"/v1/alerts/{alert['id']}/resolve", json={"note": "LFTs repeated."}, headers=staff
            )
            assert resolved.status_code == 200, resolved.text
    [acknowledged, *_] = await _alert_for_new_subject(safety, tokens, site, 250)
    assert (
        await safety.post(f"/v1/alerts/{acknowledged['id']}/acknowledge", headers=staff)
    ).status_code == 200
    critical = [a for a in await _alert_for_new_subject(safety, tokens, site, 900)]

    pages = await _pages(safety, staff, limit=2)
    listed = [alert for page in pages for alert in page]
    whole = (await safety.get("/v1/alerts", headers=staff)).json()
    assert whole["next_offset"] is None
    assert [a["id"] for a in listed] == [a["id"] for a in whole["alerts"]]
    assert len(listed) == len({a["id"] for a in listed}), "an alert was listed twice"
    assert listed == sorted(listed, key=_work_queue_key)
    assert pages[0][0]["severity"] == "critical" and pages[0][0]["status"] == "open"
    assert {a["id"] for a in critical} <= {a["id"] for a in listed}
    assert listed[-1]["status"] == "resolved"


async def test_an_offset_past_the_end_is_an_empty_last_page(safety, tokens) -> None:
    site = await site_with_webhook(safety, tokens, None)
    await _alert_for_new_subject(safety, tokens, site, 250)
    response = await safety.get(
        "/v1/alerts",
        params={"offset": 500},
        headers=tokens.headers("site_staff", site=site),
    )
    assert response.status_code == 200
    assert response.json() == {"alerts": [], "next_offset": None}


async def test_a_negative_offset_is_a_problem_naming_the_parameter(safety, tokens) -> None:
    response = await safety.get(
        "/v1/alerts", params={"offset": -1}, headers=tokens.headers("site_staff", site="101")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.offset"
