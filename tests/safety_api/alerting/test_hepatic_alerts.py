"""Hepatic alerts raised from lab posts (DOMAIN §4): Hy's law pairing across requests, the
cholestatic label, the REILD window edges, one open alert per subject and rule."""

from __future__ import annotations

import datetime as dt

from tests.safety_api.alerting.conftest import (
    alerts_of,
    alp,
    alt,
    at,
    bili,
    insert_subject,
    post_labs,
    site_with_webhook,
)

DAY0 = dt.date.today() - dt.timedelta(days=20)


async def test_hys_law_pair_in_two_lab_posts_three_days_apart_raises_one_critical_alert(
    safety, tokens
) -> None:
    site = await site_with_webhook(safety, tokens, None)
    subject = await insert_subject(safety, site_id=site)
    await post_labs(safety, tokens, site, subject, at(DAY0), alt(150), alp(100))  # ALT 3.75 x ULN
    assert await alerts_of(safety, tokens, site, subject, "hys_law") == []
    await post_labs(safety, tokens, site, subject, at(DAY0 + dt.timedelta(days=3)), bili(2.6))
    [alert] = await alerts_of(safety, tokens, site, subject, "hys_law")
    assert alert["severity"] == "critical"
    assert alert["status"] == "open"
    assert "cholestatic" not in alert["labels"]
    assert subject in alert["summary"]
    analytes = {e.get("analyte") for e in alert["evidence"]}
    assert {"ALT", "BILI"} <= analytes


async def test_alp_two_and_a_half_times_uln_makes_the_hys_law_alert_cholestatic(
    safety, tokens
) -> None:
    site = await site_with_webhook(safety, tokens, None)
    subject = await insert_subject(safety, site_id=site)
    await post_labs(safety, tokens, site, subject, at(DAY0), alt(150), alp(300))  # ALP 2.5 x ULN
    await post_labs(safety, tokens, site, subject, at(DAY0 + dt.timedelta(days=3)), bili(2.6))
    [alert] = await alerts_of(safety, tokens, site, subject, "hys_law")
    assert "cholestatic" in alert["labels"]
    assert alert["severity"] == "high"


async def test_hys_law_alert_says_when_alp_is_unknown(safety, tokens) -> None:
    site = await site_with_webhook(safety, tokens, None)
    subject = await insert_subject(safety, site_id=site)
    await post_labs(safety, tokens, site, subject, at(DAY0), alt(150))
    await post_labs(safety, tokens, site, subject, at(DAY0 + dt.timedelta(days=1)), bili(2.6))
    [alert] = await alerts_of(safety, tokens, site, subject, "hys_law")
    assert "alp_unknown" in alert["labels"]


async def test_hys_law_pair_ten_days_apart_raises_none(safety, tokens) -> None:
    site = await site_with_webhook(safety, tokens, None)
    subject = await insert_subject(safety, site_id=site)
    await post_labs(safety, tokens, site, subject, at(DAY0), alt(150), alp(100))
    await post_labs(safety, tokens, site, subject, at(DAY0 + dt.timedelta(days=10)), bili(2.6))
    assert await alerts_of(safety, tokens, site, subject, "hys_law") == []


async def _reild_subject(safety, tokens, days_after_tare: int) -> tuple[str, str]:
    site = await site_with_webhook(safety, tokens, None)
    tare = dt.date.today() - dt.timedelta(days=days_after_tare + 1)
    subject = await insert_subject(
        safety,
        site_id=site,
        treatment_start=(tare - dt.timedelta(days=40)).isoformat(),
        tare_dates=[tare.isoformat()],
    )
    await post_labs(
        safety, tokens, site, subject, at(tare + dt.timedelta(days=days_after_tare)), bili(2.5)
    )  # 2.08 x ULN
    return site, subject


async def test_reild_watch_day_120_after_tare_alerts(safety, tokens) -> None:
    site, subject = await _reild_subject(safety, tokens, 120)
    [alert] = await alerts_of(safety, tokens, site, subject, "reild_watch")
    assert alert["severity"] == "high"


async def test_reild_watch_day_121_after_tare_does_not_alert(safety, tokens) -> None:
    site, subject = await _reild_subject(safety, tokens, 121)
    assert await alerts_of(safety, tokens, site, subject, "reild_watch") == []


async def test_a_second_grade_3_alt_updates_the_open_alert_not_a_new_one(safety, tokens) -> None:
    site = await site_with_webhook(safety, tokens, None)
    subject = await insert_subject(safety, site_id=site)
    await post_labs(safety, tokens, site, subject, at(DAY0), alt(250))  # 6.25 x ULN: grade 3
    await post_labs(safety, tokens, site, subject, at(DAY0 + dt.timedelta(days=2)), alt(300))
    [alert] = await alerts_of(safety, tokens, site, subject, "hepatic_grade")
    assert alert["severity"] == "high"
    assert len([e for e in alert["evidence"] if e.get("analyte") == "ALT"]) == 2


async def test_a_grade_4_alt_escalates_the_open_alert_to_critical(safety, tokens) -> None:
    site = await site_with_webhook(safety, tokens, None)
    subject = await insert_subject(safety, site_id=site)
    await post_labs(safety, tokens, site, subject, at(DAY0), alt(250))
    await post_labs(safety, tokens, site, subject, at(DAY0 + dt.timedelta(days=1)), alt(900))
    [alert] = await alerts_of(safety, tokens, site, subject, "hepatic_grade")
    assert alert["severity"] == "critical"


async def test_lab_post_response_lists_the_alerts_it_raised(safety, tokens) -> None:
    site = await site_with_webhook(safety, tokens, None)
    subject = await insert_subject(safety, site_id=site)
    body = await post_labs(safety, tokens, site, subject, at(DAY0), alt(250))
    assert [a["rule"] for a in body["alerts"]] == ["hepatic_grade", "worsening"]


async def test_edish_report_places_the_hys_law_subject_in_the_upper_right(safety, tokens) -> None:
    site = await site_with_webhook(safety, tokens, None)
    subject = await insert_subject(safety, site_id=site)
    await post_labs(safety, tokens, site, subject, at(DAY0), alt(150), bili(2.6))
    response = await safety.get(
        "/v1/reports/edish", headers=tokens.headers("site_staff", site=site)
    )
    assert response.status_code == 200
    [point] = [p for p in response.json()["points"] if p["subject_id"] == subject]
    assert point["peak_alt_x_uln"] == 3.75
    assert point["quadrant"] == "potential_hys_law"
    other = await safety.get(
        "/v1/reports/edish", headers=tokens.headers("site_staff", site="elsewhere")
    )
    assert all(p["subject_id"] != subject for p in other.json()["points"])


async def test_a_large_batch_keeps_the_alert_summary_readable(safety, tokens) -> None:
    # 60 grade-3 ALT results in one post: the summary names a few, the evidence holds all.
    site = await site_with_webhook(safety, tokens, None)
    subject = await insert_subject(safety, site_id=site)
    body = await post_labs(safety, tokens, site, subject, at(DAY0), *[alt(250)] * 60)
    [alert] = [a for a in body["alerts"] if a["rule"] == "hepatic_grade"]
    assert "56 more (see the evidence)" in alert["summary"]
    assert len(alert["summary"]) < 2000
    assert len([e for e in alert["evidence"] if e.get("analyte") == "ALT"]) == 60
