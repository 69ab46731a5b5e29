"""The staff pages under /staff/: sign-in with an HttpOnly SameSite=Strict cookie, CSRF-checked
forms, own-site scope on every page, security headers, and the eDISH plot as SVG."""

from __future__ import annotations

import datetime as dt
import re

import httpx

from tests.safety_api.alerting.conftest import alt, bili, post_labs
from tests.support.factories import create_site, insert_subject
from tests.support.tokens import TokenFactory

ORIGIN = "http://test"


def at(hours_ago: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)).isoformat()


async def site_with_hys_law_alert(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> tuple[str, str]:
    """(site, subject) where ALT 5 x ULN and bilirubin 3 x ULN raised a Hy's law alert."""
    site = await create_site(client, tokens, aud="safety_api")
    subject = await insert_subject(client, site_id=site)
    await post_labs(client, tokens, site, subject, at(30), alt(200), bili(3.6))
    return site, subject


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/staff/sign-in", data={"token": token}, headers={"Origin": ORIGIN})


async def signed_in(client: httpx.AsyncClient, tokens: TokenFactory, site: str) -> str:
    """Signs in as site staff of ``site``; returns the CSRF token the pages carry."""
    response = await sign_in(client, tokens("site_staff", site=site))
    assert response.status_code == 303, response.text
    page = await client.get("/staff/alerts")
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match is not None
    return match.group(1)


async def test_sign_in_page_carries_strict_security_headers_and_no_inline_script(safety) -> None:
    response = await safety.get("/staff/sign-in")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)
    assert " style=" not in response.text


async def test_api_responses_and_errors_carry_the_security_headers_too(safety) -> None:
    for path in ("/healthz", "/v1/alerts", "/no-such-page"):
        response = await safety.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path


async def test_staff_token_signs_in_with_an_httponly_samesite_strict_cookie(safety, tokens) -> None:
    site = await create_site(safety, tokens, aud="safety_api")
    response = await sign_in(safety, tokens("site_staff", site=site))
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/alerts"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/staff" in cookie


async def test_a_bad_token_is_refused_with_the_reason_on_the_sign_in_page(safety) -> None:
    response = await sign_in(safety, "not-a-token")
    assert response.status_code == 401
    assert "Could not sign in" in response.text
    assert "set-cookie" not in response.headers


async def test_only_site_staff_can_sign_in(safety, tokens) -> None:
    for token in (
        tokens("monitor"),
        tokens("patient", site="s1", pid="p1"),
        tokens("site_staff", site="s1", aud="pro_api"),
    ):
        response = await sign_in(safety, token)
        assert response.status_code in (401, 403)
        assert "set-cookie" not in response.headers


async def test_sign_in_from_another_origin_is_refused(safety, tokens) -> None:
    response = await safety.post(
        "/staff/sign-in",
        data={"token": tokens("site_staff", site="s1")},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_pages_without_a_session_send_the_browser_to_sign_in(safety) -> None:
    for path in ("/staff/", "/staff/alerts", "/staff/subjects/x-1", "/staff/edish"):
        response = await safety.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/staff/sign-in"), path


async def test_alert_queue_shows_own_site_alerts_with_evidence_and_delivery(safety, tokens) -> None:
    site, subject = await site_with_hys_law_alert(safety, tokens)
    _other_site, other_subject = await site_with_hys_law_alert(safety, tokens)
    await signed_in(safety, tokens, site)
    page = await safety.get("/staff/alerts")
    assert subject in page.text
    assert other_subject not in page.text
    assert "Critical" in page.text and "Evidence" in page.text
    assert "No alert receiver set up for the site" in page.text


async def test_another_sites_alert_and_subject_are_not_found(safety, tokens) -> None:
    site = await create_site(safety, tokens, aud="safety_api")
    other_site, other_subject = await site_with_hys_law_alert(safety, tokens)
    other_alert = (
        await safety.get("/v1/alerts", headers=tokens.headers("site_staff", site=other_site))
    ).json()["alerts"][0]["id"]
    csrf = await signed_in(safety, tokens, site)
    assert (await safety.get(f"/staff/alerts/{other_alert}")).status_code == 404
    assert (await safety.get(f"/staff/subjects/{other_subject}")).status_code == 404
    response = await safety.post(
        f"/staff/alerts/{other_alert}/acknowledge", data={"csrf": csrf}, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 404
    assert "not allowed to see it" in response.text


async def test_acknowledge_and_resolve_with_a_note_through_the_forms(safety, tokens) -> None:
    site, subject = await site_with_hys_law_alert(safety, tokens)
    headers = tokens.headers("site_staff", site=site)
    alert_id = (await safety.get("/v1/alerts", headers=headers)).json()["alerts"][0]["id"]
    csrf = await signed_in(safety, tokens, site)

    response = await safety.post(
        f"/staff/alerts/{alert_id}/acknowledge", data={"csrf": csrf}, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 303
    page = await safety.get(response.headers["location"])
    assert f"Alert for subject {subject} acknowledged." in page.text

    response = await safety.post(
        f"/staff/alerts/{alert_id}/resolve",
        data={"csrf": csrf, "note": "Patient called; labs repeated tomorrow."},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 303
    alert = (await safety.get(f"/v1/alerts/{alert_id}", headers=headers)).json()
    assert alert["status"] == "resolved"
    assert alert["resolution_note"] == "Patient called; labs repeated tomorrow."


async def test_resolving_without_a_note_is_refused_and_says_what_to_add(safety, tokens) -> None:
    site, _subject = await site_with_hys_law_alert(safety, tokens)
    headers = tokens.headers("site_staff", site=site)
    alert_id = (await safety.get("/v1/alerts", headers=headers)).json()["alerts"][0]["id"]
    csrf = await signed_in(safety, tokens, site)
    response = await safety.post(
        f"/staff/alerts/{alert_id}/resolve",
        data={"csrf": csrf, "note": "  "},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 422
    assert "A note is needed" in response.text
    assert (await safety.get(f"/v1/alerts/{alert_id}", headers=headers)).json()["status"] == "open"


async def test_forms_without_the_csrf_token_or_from_another_origin_change_nothing(
    safety, tokens
) -> None:
    site, _subject = await site_with_hys_law_alert(safety, tokens)
    headers = tokens.headers("site_staff", site=site)
    alert_id = (await safety.get("/v1/alerts", headers=headers)).json()["alerts"][0]["id"]
    csrf = await signed_in(safety, tokens, site)
    forged = await safety.post(
        f"/staff/alerts/{alert_id}/acknowledge", data={"csrf": "0" * 64}, headers={"Origin": ORIGIN}
    )
    assert forged.status_code == 403
    cross_site = await safety.post(
        f"/staff/alerts/{alert_id}/acknowledge",
        data={"csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    fetched_cross_site = await safety.post(
        f"/staff/alerts/{alert_id}/acknowledge",
        data={"csrf": csrf},
        headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    )
    assert fetched_cross_site.status_code == 403
    missing = await safety.post(f"/staff/alerts/{alert_id}/acknowledge", data={})
    assert missing.status_code == 422
    assert (await safety.get(f"/v1/alerts/{alert_id}", headers=headers)).json()["status"] == "open"


async def test_subject_page_shows_lab_values_grades_and_adverse_events_by_cycle(
    safety, tokens
) -> None:
    site, subject = await site_with_hys_law_alert(safety, tokens)
    await signed_in(safety, tokens, site)
    page = await safety.get(f"/staff/subjects/{subject}")
    assert page.status_code == 200
    assert "Lab values over time" in page.text
    assert "200 U/L" in page.text and "Grade 2" in page.text  # ALT 5 x ULN is grade 2
    assert "Adverse events by cycle" in page.text
    assert "Alanine aminotransferase increased" in page.text


async def test_edish_plot_is_server_rendered_svg_with_reference_lines(safety, tokens) -> None:
    site, subject = await site_with_hys_law_alert(safety, tokens)
    await signed_in(safety, tokens, site)
    page = await safety.get("/staff/edish")
    assert page.status_code == 200
    assert "<svg" in page.text and "3\u00d7 ULN" in page.text and "2\u00d7 ULN" in page.text
    assert "1 in the potential Hy's law quadrant" in page.text
    assert subject in page.text


async def test_toxicity_summary_counts_own_site_by_worst_grade(safety, tokens) -> None:
    site, _subject = await site_with_hys_law_alert(safety, tokens)
    await signed_in(safety, tokens, site)
    page = await safety.get("/staff/toxicity", params={"category": "hepatic"})
    assert page.status_code == 200
    assert "Alanine aminotransferase increased" in page.text
    assert (await safety.get("/staff/toxicity", params={"category": "bogus"})).status_code == 422


async def test_sign_out_clears_the_cookie(safety, tokens) -> None:
    site = await create_site(safety, tokens, aud="safety_api")
    csrf = await signed_in(safety, tokens, site)
    response = await safety.post("/staff/sign-out", data={"csrf": csrf}, headers={"Origin": ORIGIN})
    assert response.status_code == 303
    assert (
        'captem_staff=""' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )
    assert (await safety.get("/staff/alerts")).status_code == 303


async def test_the_alert_page_says_when_more_unresolved_alerts_wait_than_it_shows(
    safety, tokens, monkeypatch
) -> None:
    from services.safety_api.web import router as web

    site, _ = await site_with_hys_law_alert(safety, tokens)
    await signed_in(safety, tokens, site)
    everything = await safety.get("/staff/alerts")
    assert "More are waiting" not in everything.text
    monkeypatch.setattr(web, "UNRESOLVED_SHOWN", 1)
    cut = await safety.get("/staff/alerts")
    assert cut.status_code == 200
    assert "Only the 1 most urgent unresolved alerts are shown. More are waiting" in cut.text
    assert "Potential Hy" in cut.text  # the critical alert is the one kept
