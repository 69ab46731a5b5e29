"""The patient's phone app in a real browser: activation by link, a diary day, the questionnaire
with save-and-resume and review, and a submission that loses its network half-way and is still
stored exactly once."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import PHONE, PhonePage, Servers, expect, new_phone_context
from tests.e2e.seed import create_site, enrol_patient, local_today, save_draft, staff_get

pytestmark = pytest.mark.e2e
QUESTIONS = 51


async def answer_current_question(phone: PhonePage, option: int = 0) -> None:
    await phone.page.locator("#question-options label").nth(option).click()
    await phone.page.get_by_role("button", name="Next").click()


async def test_patient_activates_by_link_fills_the_day_and_completes_the_questionnaire(
    servers: Servers, browser
) -> None:
    site = create_site(servers)
    patient = enrol_patient(servers, site)
    context = await new_phone_context(browser, service_workers="allow")
    phone = PhonePage(await context.new_page())
    page = phone.page
    try:
        # Activation by a link carrying the code (a QR code opens the same link).
        await page.goto(f"{servers.pro}/app/#activate={patient.activation_code}")
        await expect(page.get_by_label("Your code")).to_have_value(patient.activation_code)
        assert "#activate" not in page.url, "the code is removed from the address bar"
        await phone.page_check("01-activate")
        await page.get_by_role("button", name="Start").click()

        # Today: two capecitabine doses, one tap each.
        await expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
        doses = page.locator(".dose-button")
        await expect(doses).to_have_count(2)
        await expect(page.locator("#sync-status")).to_contain_text(
            "Everything you entered is saved"
        )
        await phone.page_check("02-today")
        for index in range(2):
            await doses.nth(index).click()
            await expect(doses.nth(index)).to_have_attribute("aria-pressed", "true")
            await expect(doses.nth(index)).to_contain_text("Taken at")
        await expect(page.locator("#doses-status")).to_contain_text("Saved at")

        # Symptoms in plain words, and the temperature in Fahrenheit.
        await (
            page.get_by_role("group", name="Did you feel sick to your stomach?")
            .get_by_label("Yes, it took my appetite away")
            .check()
        )
        await (
            page.get_by_role("group", name="How tired were you?")
            .get_by_label("Tired, but rest helps")
            .check()
        )
        await (
            page.get_by_role("group", name=re.compile("more times than usual"))
            .get_by_role("button", name="One more")
            .click()
        )
        await page.locator("#temperature").fill("100.0")
        await page.get_by_label("°F").check()
        await page.get_by_role("button", name="Save how I feel").click()
        await expect(page.locator("#symptoms-status")).to_contain_text("Saved at")
        await phone.page_check("03-today-saved")

        diary = staff_get(
            servers,
            site,
            f"/v1/patients/{patient.id}/diary?from={local_today()}&to={local_today()}",
        )
        entry = diary["days"][0]["entry"]
        assert sorted((d["slot"], d["taken"]) for d in entry["doses"]) == [
            ("evening", True),
            ("morning", True),
        ]
        assert entry["symptoms"] == {
            "nausea": "appetite_loss",
            "fatigue": "relieved_by_rest",
            "stools_above_baseline": 1,
            "temperature_c": 37.8,
        }

        # Readable at 200% zoom: half the CSS width, nothing scrolls sideways.
        await page.set_viewport_size({"width": PHONE["width"] // 2, "height": PHONE["height"] // 2})
        wider = await page.evaluate(
            """() => {
                const width = document.documentElement.clientWidth + 1;
                return [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > width)
                    .map(e => e.tagName + '#' + e.id + '.' + e.className);
            }"""
        )
        assert wider == [], f"wider than the screen at 200% zoom: {wider}"
        await phone.screenshot("04-today-at-200-percent-zoom")
        await page.set_viewport_size(PHONE)

        # The questionnaire, one question per screen; stop after ten and resume later.
        await page.get_by_role("button", name="Start the questionnaire").click()
        await expect(page.locator("#progress-text")).to_have_text(f"Question 1 of {QUESTIONS}")
        await phone.page_check("05-question")
        for _ in range(10):
            await answer_current_question(phone)
        await expect(page.locator("#progress-text")).to_have_text(f"Question 11 of {QUESTIONS}")
        await page.get_by_role("button", name="Save and finish later").click()
        await page.get_by_role("button", name="Carry on with the questionnaire").click()
        await expect(page.locator("#progress-text")).to_have_text(f"Question 11 of {QUESTIONS}")
        await page.get_by_role("button", name="Back").click()
        await expect(page.locator("#progress-text")).to_have_text(f"Question 10 of {QUESTIONS}")
        await expect(page.locator("#question-options input").first).to_be_checked()
        await page.get_by_role("button", name="Next").click()
        for number in range(11, QUESTIONS + 1):
            await answer_current_question(phone, option=4 if number in (29, 30) else 1)

        # Review, change one answer, send.
        await expect(page.get_by_role("heading", name="Check your answers")).to_be_visible()
        await phone.page_check("06-review")
        await page.get_by_role("button", name=f"Change: Question 1 of {QUESTIONS}").click()
        await page.locator("#question-options label").nth(2).click()
        await page.get_by_role("button", name="Next").click()
        await expect(page.get_by_role("heading", name="Check your answers")).to_be_visible()
        await page.get_by_role("button", name="Send my answers").click()
        await expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
        await phone.page_check("07-sent")

        outcomes = staff_get(servers, site, f"/v1/patients/{patient.id}/questionnaire-responses")
        [baseline] = outcomes["timepoints"]
        assert baseline["timepoint"] == "baseline" and len(baseline["versions"]) == 1

        # Installable: the manifest is linked and the service worker controls /app/.
        scope = await page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
        assert scope == f"{servers.pro}/app/"
    finally:
        await context.close()


async def test_network_lost_mid_submission_stores_exactly_one_response(
    servers: Servers, phone: PhonePage
) -> None:
    site = create_site(servers)
    patient = enrol_patient(servers, site)
    page = phone.page
    await page.goto(f"{servers.pro}/app/")
    await page.get_by_label("Your code").fill(patient.activation_code.lower())
    await page.get_by_role("button", name="Start").click()
    await expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()

    # A dose marked while offline says honestly that it is waiting, then is saved.
    await page.context.set_offline(True)
    await page.locator(".dose-button").first.click()
    await expect(page.locator("#doses-status")).to_contain_text("Waiting to send")
    await expect(page.locator("#sync-status")).to_contain_text("1 waiting to send")
    await phone.page_check("08-today-offline")
    await page.context.set_offline(False)
    await expect(page.locator("#doses-status")).to_contain_text("Saved at")

    # Every answer given earlier (saved as a draft), so "carry on" opens the review.
    save_draft(
        servers, patient, {str(n): 4 if n in (29, 30) else 1 for n in range(1, QUESTIONS + 1)}
    )
    await page.reload()
    await page.get_by_role("button", name="Carry on with the questionnaire").click()
    await expect(page.get_by_role("heading", name="Check your answers")).to_be_visible()

    # The POST reaches the server and is stored, but the phone loses the network before the
    # answer comes back.
    sent_keys: list[str] = []

    async def lose_the_response(route) -> None:
        sent_keys.append(route.request.headers.get("idempotency-key", ""))
        await route.fetch()
        await page.context.set_offline(True)
        await route.abort("internetdisconnected")

    await page.route("**/v1/me/questionnaire-responses", lose_the_response)
    await page.get_by_role("button", name="Send my answers").click()
    await expect(page.get_by_role("heading", name="Saved on this phone")).to_be_visible()
    await expect(page.locator("#sync-status")).to_contain_text("1 waiting to send")
    await phone.page_check("09-questionnaire-waiting-offline")
    await page.unroute("**/v1/me/questionnaire-responses")

    # Back online: the phone resends with the same Idempotency-Key; the server replays.
    retried: list[str] = []
    page.on(
        "request",
        lambda request: (
            retried.append(request.headers.get("idempotency-key", ""))
            if request.url.endswith("/v1/me/questionnaire-responses")
            else None
        ),
    )
    await page.context.set_offline(False)
    await expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    await expect(page.locator("#sync-status")).to_contain_text("Everything you entered is saved")
    assert sent_keys and sent_keys[0] and retried == sent_keys[:1]

    outcomes = staff_get(servers, site, f"/v1/patients/{patient.id}/questionnaire-responses")
    [baseline] = outcomes["timepoints"]
    assert len(baseline["versions"]) == 1, "exactly one response stored"


async def test_language_switch_translates_the_app(servers: Servers, phone: PhonePage) -> None:
    page = phone.page
    await page.goto(f"{servers.pro}/app/")
    await page.get_by_label("Language").select_option("es")
    await expect(page.get_by_role("heading", name="Bienvenido")).to_be_visible()
    assert await page.get_attribute("html", "lang") == "es"
    await page.get_by_role("button", name="Empezar").click()
    await expect(page.locator("#activate-error")).to_have_text("Escriba su código, por favor.")
    await phone.page_check("10-activate-spanish")
