"""Alert lifecycle (acknowledge, resolve with a note, escalation on a missed deadline) and
Standard Webhooks delivery through the outbox: signed, retried, never lost, never doubled."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from standardwebhooks.webhooks import Webhook

from services.common.db import utcnow
from services.safety_api.alerts import service as alert_service
from tests.conftest import make_settings
from tests.safety_api.alerting.conftest import (
    SECRET,
    alerts_of,
    alt,
    at,
    insert_subject,
    post_labs,
    site_with_webhook,
)
from tests.support.receiver import running_receiver

DAY0 = dt.date.today() - dt.timedelta(days=5)


async def _events(receiver) -> list[dict]:
    return [json.loads(receiver.bodies[k]) for k in receiver.bodies]


async def _grade3_alert(client, tokens, site):
    subject = await insert_subject(client, site_id=site)
    await post_labs(client, tokens, site, subject, at(DAY0), alt(250))
    [alert] = await alerts_of(client, tokens, site, subject, "hepatic_grade")
    return subject, alert


async def test_webhook_arrives_once_signed_after_the_receiver_fails_three_times(
    live_safety, tokens
) -> None:
    async with running_receiver(fail_first=3, id_header="webhook-id") as receiver:
        site = await site_with_webhook(live_safety, tokens, receiver.url)
        subject, alert = await _grade3_alert(live_safety, tokens, site)
        await receiver.wait_for(2)  # alert.created for hepatic_grade and for worsening
    for webhook_id, headers in receiver.headers.items():
        assert receiver.seen[webhook_id] == 4 and receiver.accepted[webhook_id] == 1
        payload = Webhook(SECRET).verify(receiver.bodies[webhook_id], headers)
        assert payload["type"] == "alert.created"
        assert payload["data"]["subject_id"] == subject
    detail = await live_safety.get(
        f"/v1/alerts/{alert['id']}", headers=tokens.headers("site_staff", site=site)
    )
    [delivery] = detail.json()["deliveries"]
    assert [a["outcome"] for a in delivery["attempts"]] == ["retry", "retry", "retry", "delivered"]
    assert detail.json()["delivery"]["state"] == "delivered"


async def test_acknowledge_then_resolve_with_a_note_notifies_each_step(live_safety, tokens) -> None:
    async with running_receiver(id_header="webhook-id") as receiver:
        site = await site_with_webhook(live_safety, tokens, receiver.url)
        _, alert = await _grade3_alert(live_safety, tokens, site)
        staff = tokens.headers("site_staff", site=site)
        ack = await live_safety.post(f"/v1/alerts/{alert['id']}/acknowledge", headers=staff)
        assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
        no_note = await live_safety.post(
            f"/v1/alerts/{alert['id']}/resolve", json={"note": " "}, headers=staff
        )
        assert no_note.status_code == 422
        assert no_note.json()["errors"][0]["field"] == "body.note"
        done = await live_safety.post(
            f"/v1/alerts/{alert['id']}/resolve",
            json={"note": "Called patient; LFTs repeated."},
            headers=staff,
        )
        assert done.status_code == 200 and done.json()["status"] == "resolved"
        assert done.json()["resolution_note"] == "Called patient; LFTs repeated."
        again = await live_safety.post(
            f"/v1/alerts/{alert['id']}/resolve", json={"note": "x"}, headers=staff
        )
        assert again.status_code == 409
        await receiver.wait_for(4)
    types = sorted(e["type"] for e in await _events(receiver) if e["data"]["id"] == alert["id"])
    assert types == ["alert.acknowledged", "alert.created", "alert.resolved"]


async def test_a_grade_4_re_notifies_as_alert_updated(live_safety, tokens) -> None:
    async with running_receiver(id_header="webhook-id") as receiver:
        site = await site_with_webhook(live_safety, tokens, receiver.url)
        subject, alert = await _grade3_alert(live_safety, tokens, site)
        await post_labs(
            live_safety, tokens, site, subject, at(DAY0 + dt.timedelta(days=1)), alt(900)
        )
        await receiver.wait_for(3)
    mine = [e for e in await _events(receiver) if e["data"]["id"] == alert["id"]]
    assert sorted(e["type"] for e in mine) == ["alert.created", "alert.updated"]
    assert max(mine, key=lambda e: e["timestamp"])["data"]["severity"] == "critical"


async def test_a_missed_acknowledgement_deadline_escalates_once(safety, tokens) -> None:
    site = await site_with_webhook(safety, tokens, None)
    await _grade3_alert(safety, tokens, site)
    later = utcnow() + dt.timedelta(hours=25)  # high: 24 h to acknowledge
    async with safety.app.state.db.sessionmaker() as session:
        first = await alert_service.run_escalations(session, safety.app.state.tables, later)
        await session.commit()
    async with safety.app.state.db.sessionmaker() as session:
        second = await alert_service.run_escalations(session, safety.app.state.tables, later)
        await session.commit()
    assert first >= 1 and second == 0


async def test_410_disables_the_site_webhook(live_safety, tokens) -> None:
    async with running_receiver(always_status=410, id_header="webhook-id") as receiver:
        site = await site_with_webhook(live_safety, tokens, receiver.url)
        await _grade3_alert(live_safety, tokens, site)
        admin = tokens.headers("site_admin", site=site)
        for _ in range(200):
            hook = await live_safety.get(f"/v1/sites/{site}/webhook", headers=admin)
            if not hook.json()["enabled"]:
                break
            await asyncio.sleep(0.05)
    assert hook.json()["enabled"] is False
    assert "410" in hook.json()["disabled_reason"]


async def test_exhausted_delivery_is_flagged_on_the_staff_list(live_safety, tokens) -> None:
    async with running_receiver(always_status=500, id_header="webhook-id") as receiver:
        site = await site_with_webhook(live_safety, tokens, receiver.url)
        subject, _ = await _grade3_alert(live_safety, tokens, site)
        for _ in range(200):
            [listed] = await alerts_of(live_safety, tokens, site, subject, "hepatic_grade")
            if listed["delivery"]["state"] == "failed":
                break
            await asyncio.sleep(0.05)
    assert listed["delivery"]["state"] == "failed"
    assert listed["status"] == "open"  # still readable and actionable whatever the webhook does


async def test_a_restart_mid_retry_loses_nothing(
    client_for, database_urls, tmp_path, tokens
) -> None:
    settings = make_settings(
        database_urls,
        tmp_path,
        dispatcher_enabled=True,
        outbox_retry_schedule_s=(0.0, 0.5, 0.5, 0.5, 0.5),
    )
    async with running_receiver(fail_first=1, id_header="webhook-id") as receiver:
        first = await client_for("safety_api", app_settings=settings)
        site = await site_with_webhook(first, tokens, receiver.url)
        await _grade3_alert(first, tokens, site)
        for _ in range(100):
            if sum(receiver.seen.values()) >= 1:
                break
            await asyncio.sleep(0.02)
        # Stop the first instance mid-retry (its lifespan ends), start a fresh one.
        await first.app.state.dispatcher.stop()
        await client_for("safety_api", app_settings=settings)
        await receiver.wait_for(2)
    assert all(count == 1 for count in receiver.accepted.values())


async def test_two_replicas_deliver_each_event_once(
    client_for, database_urls, tmp_path, tokens, backend
) -> None:
    if backend != "postgres":
        pytest.skip("replicas share one PostgreSQL in production")
    settings = make_settings(database_urls, tmp_path, dispatcher_enabled=True)
    async with running_receiver(id_header="webhook-id") as receiver:
        one = await client_for("safety_api", app_settings=settings)
        two = await client_for("safety_api", app_settings=settings)
        site = await site_with_webhook(one, tokens, receiver.url)
        for client in (one, two) * 5:
            subject = await insert_subject(client, site_id=site)
            await post_labs(client, tokens, site, subject, at(DAY0), alt(250))
        await receiver.wait_for(20)
        await asyncio.sleep(0.3)
    assert len(receiver.accepted) == 20
    assert all(receiver.seen[k] == 1 for k in receiver.accepted)


# ------------------------------------------------------------------------------- security


async def test_staff_of_another_site_cannot_see_or_act_on_an_alert(safety, tokens) -> None:
    site = await site_with_webhook(safety, tokens, None)
    _, alert = await _grade3_alert(safety, tokens, site)
    other = tokens.headers("site_staff", site="other-site")
    assert (await safety.get(f"/v1/alerts/{alert['id']}", headers=other)).status_code == 404
    ack = await safety.post(f"/v1/alerts/{alert['id']}/acknowledge", headers=other)
    assert ack.status_code == 404
    listed = await safety.get("/v1/alerts", headers=other)
    assert all(a["id"] != alert["id"] for a in listed.json()["alerts"])


async def test_patients_monitors_and_bad_tokens_cannot_act_on_alerts(safety, tokens) -> None:
    site = await site_with_webhook(safety, tokens, None)
    _, alert = await _grade3_alert(safety, tokens, site)
    url = f"/v1/alerts/{alert['id']}/acknowledge"
    patient = tokens.headers("patient", site=site, pid="p-1")
    assert (await safety.get("/v1/alerts", headers=patient)).status_code == 403
    assert (await safety.post(url, headers=patient)).status_code == 403
    monitor = tokens.headers("monitor")
    assert (await safety.get(f"/v1/alerts/{alert['id']}", headers=monitor)).status_code == 200
    assert (await safety.post(url, headers=monitor)).status_code == 403
    assert (await safety.post(url, headers={"Authorization": "Bearer x"})).status_code == 401
    assert (await safety.get("/v1/alerts")).status_code == 401


async def test_only_the_sites_own_admin_sets_its_webhook(safety, tokens) -> None:
    site = await site_with_webhook(safety, tokens, None)
    body = {"url": "https://receiver.example/hook", "secret": SECRET}
    staff = await safety.put(
        f"/v1/sites/{site}/webhook", json=body, headers=tokens.headers("site_staff", site=site)
    )
    assert staff.status_code == 403
    other_admin = await safety.put(
        f"/v1/sites/{site}/webhook",
        json=body,
        headers=tokens.headers("site_admin", site="other-site"),
    )
    assert other_admin.status_code == 404
    bad_secret = await safety.put(
        f"/v1/sites/{site}/webhook",
        json={**body, "secret": "hunter2"},
        headers=tokens.headers("site_admin", site=site),
    )
    assert bad_secret.status_code == 422
    assert bad_secret.json()["errors"][0]["field"] == "body.secret"
    ok = await safety.put(
        f"/v1/sites/{site}/webhook", json=body, headers=tokens.headers("site_admin", site=site)
    )
    assert ok.status_code == 200 and "secret" not in ok.json()


async def test_a_site_can_switch_off_systemic_alerts(safety, tokens) -> None:
    site = await site_with_webhook(safety, tokens, None)
    admin = tokens.headers("site_admin", site=site)
    response = await safety.put(
        f"/v1/sites/{site}/alert-policy",
        headers=admin,
        json={"overrides": {"rules": {"systemic_grade": {"enabled": False}}}},
    )
    assert response.status_code == 200
    assert response.json()["rules"]["systemic_grade"]["enabled"] is False
    wrong = await safety.put(
        f"/v1/sites/{site}/alert-policy",
        headers=admin,
        json={"overrides": {"rules": {"no_such_rule": {}}}},
    )
    assert wrong.status_code == 422
