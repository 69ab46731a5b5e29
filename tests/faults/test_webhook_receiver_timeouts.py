"""A webhook receiver that hangs longer than ``CAPTEM_OUTBOX_HTTP_TIMEOUT_S``: each hung attempt is
recorded as a retry with a timeout error, the alert's delivery is not lost, and the event
arrives once the receiver answers in time — exactly once as far as the receiver is concerned.

(500s, retries exhausted, 410 Gone and a restart mid-retry are covered by
tests/safety_api/alerting/test_alert_lifecycle_and_delivery.py; not repeated here.)
"""

from __future__ import annotations

import asyncio
import datetime as dt

from tests.conftest import make_settings
from tests.safety_api.alerting.conftest import (
    alerts_of,
    alt,
    at,
    insert_subject,
    post_labs,
    site_with_webhook,
)
from tests.support.receiver import running_receiver

DAY0 = dt.date.today() - dt.timedelta(days=5)
HTTP_TIMEOUT_S = 0.3


async def test_a_receiver_that_times_out_twice_gets_the_event_on_the_third_attempt(
    client_for, database_urls, tmp_path, tokens
) -> None:
    settings = make_settings(
        database_urls,
        tmp_path,
        dispatcher_enabled=True,
        escalation_interval_s=3600,
        outbox_http_timeout_s=HTTP_TIMEOUT_S,
        outbox_retry_schedule_s=(0.0, 0.1, 0.1, 0.1, 0.1),
    )
    safety = await client_for("safety_api", app_settings=settings)
    # Hangs 4x the timeout on the first two attempts of each message, then answers at once.
    async with running_receiver(
        id_header="webhook-id", delay_s=4 * HTTP_TIMEOUT_S, delay_first=2
    ) as receiver:
        site = await site_with_webhook(safety, tokens, receiver.url)
        subject = await insert_subject(safety, site_id=site)
        await post_labs(safety, tokens, site, subject, at(DAY0), alt(250))
        [alert] = await alerts_of(safety, tokens, site, subject, "hepatic_grade")
        staff = tokens.headers("site_staff", site=site)
        await receiver.wait_for(2)  # alert.created for hepatic_grade and for worsening
        for _ in range(200):
            detail = (await safety.get(f"/v1/alerts/{alert['id']}", headers=staff)).json()
            if detail["delivery"]["state"] == "delivered":
                break
            await asyncio.sleep(0.05)

    assert detail["delivery"]["state"] == "delivered", detail["delivery"]
    [delivery] = detail["deliveries"]
    attempts = delivery["attempts"]
    assert [a["outcome"] for a in attempts] == ["retry", "retry", "delivered"]
    for hung in attempts[:2]:
        assert hung["status_code"] is None
        assert "Timeout" in hung["error"], hung["error"]
        # Given up at the timeout, not after the receiver's 1.2 s hang.
        assert hung["duration_ms"] < 4 * HTTP_TIMEOUT_S * 1000
    assert attempts[2]["status_code"] == 204 and attempts[2]["error"] is None
    assert delivery["webhook_id"] in receiver.accepted
    # Each event: three attempts seen by the receiver, accepted (acted on) once.
    assert len(receiver.seen) == 2
    assert all(receiver.seen[k] == 3 and receiver.accepted[k] == 1 for k in receiver.seen)
