"""The staff pages in a real browser at phone size: sign in with a token, acknowledge and resolve
a Hy's law alert with a note, and every staff page passes the axe audit."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import PhonePage, Servers, expect
from tests.e2e.seed import create_site, staff_get, subject_with_hys_law_alert

pytestmark = pytest.mark.e2e


async def test_staff_signs_in_acknowledges_and_resolves_an_alert(
    servers: Servers, phone: PhonePage
) -> None:
    site = create_site(servers)
    subject = subject_with_hys_law_alert(servers, site)
    alerts = staff_get(servers, site, f"/v1/alerts?subject_id={subject}", aud="safety_api")
    [hys_law] = [a["id"] for a in alerts["alerts"] if a["rule"] == "hys_law"]
    page = phone.page

    await page.goto(f"{servers.safety}/staff/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await phone.page_check("20-staff-sign-in")
    await page.get_by_label("Staff token").fill(servers.staff_token(site))
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    card = page.locator(f"#alert-{hys_law}")
    await expect(card).to_contain_text("Critical")
    await expect(card).to_contain_text("No alert receiver set up")
    await phone.page_check("21-staff-alerts")

    await card.get_by_role("button", name="Acknowledge").click()
    await expect(page.get_by_role("status")).to_contain_text(
        f"Alert for subject {subject} acknowledged."
    )
    card = page.locator(f"#alert-{hys_law}")
    await expect(card).to_contain_text("Acknowledged")
    await card.get_by_label("What was done").fill("Patient called; labs repeated tomorrow.")
    await card.get_by_role("button", name="Resolve").click()
    await expect(page.get_by_role("status")).to_contain_text(
        f"Alert for subject {subject} resolved."
    )
    await phone.page_check("22-staff-alert-resolved")

    alert = staff_get(servers, site, f"/v1/alerts/{hys_law}", aud="safety_api")
    assert alert["status"] == "resolved"
    assert alert["resolution_note"] == "Patient called; labs repeated tomorrow."

    await page.locator(f"#alert-{hys_law}").get_by_role("link", name="Details").click()
    await expect(page.get_by_role("heading", name=f"Alert for subject {subject}")).to_be_visible()
    await phone.page_check("23-staff-alert-detail")

    await page.goto(f"{servers.safety}/staff/subjects/{subject}")
    await expect(page.get_by_role("heading", name="Lab values over time")).to_be_visible()
    await expect(page.get_by_text("Alanine aminotransferase increased").first).to_be_visible()
    await phone.page_check("24-staff-subject")

    await page.get_by_role("link", name="eDISH").click()
    await expect(page.locator("svg[role=img]")).to_be_visible()
    await expect(page.locator("svg[role=img] rect[transform]")).to_have_count(1)
    await phone.page_check("25-staff-edish")

    await page.get_by_role("link", name="Toxicity").click()
    await expect(page.get_by_role("heading", name="Toxicity summary: hepatic")).to_be_visible()
    await phone.page_check("26-staff-toxicity")

    await page.get_by_role("link", name="Subjects").click()
    await expect(page.get_by_role("link", name=subject)).to_be_visible()
    await phone.page_check("27-staff-subjects")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
