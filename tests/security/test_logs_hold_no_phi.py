"""Logs hold no patient data or secrets: a run of enrolment, activation, questionnaire, lab and
symptom requests through both services, logged at DEBUG as `captem serve` configures logging,
shows no activation code, token, answer, lab value, symptom value or webhook secret."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterator

import pytest

from services.common.logs import JsonFormatter, quiet_third_party_loggers
from tests.pro_api.questionnaires.factories import local_today
from tests.support.factories import create_site, new_subject_id

LAB_VALUE = 987.654
TEMPERATURE = 38.77
WEBHOOK_SECRET = "whsec_" + "U2VjcmV0V2ViaG9va0tleUZvckxvZ1Rlc3RzMTIzNDU2"
NOTE = "Diary note MARKER-4417"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet_third_party_loggers()
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


async def test_logs_hold_no_codes_tokens_answers_or_values(pro, safety, tokens, log_output) -> None:
    # pro_api: enrol, activate, answer the baseline questionnaire, refresh, keep a diary day.
    site = await create_site(pro, tokens, aud="pro_api")
    staff = tokens.headers("site_staff", site=site, aud="pro_api")
    subject = new_subject_id(site)
    enrolled = await pro.post(
        "/v1/patients",
        json={
            "subject_id": subject,
            "timezone": "America/New_York",
            "language": "en",
            "treatment_start": local_today().isoformat(),
            "regimen": {"capecitabine_mg": 1500, "temozolomide_mg": 300},
        },
        headers=staff,
    )
    assert enrolled.status_code == 201, enrolled.text
    code = enrolled.json()["activation_code"]
    signed_in = await pro.post("/v1/auth/activate", json={"activation_code": code})
    assert signed_in.status_code == 200, signed_in.text
    access, refresh = signed_in.json()["access_token"], signed_in.json()["refresh_token"]
    patient = {"Authorization": f"Bearer {access}"}
    answers = {str(n): 3 for n in range(1, 52)}
    submitted = await pro.post(
        "/v1/me/questionnaire-responses",
        json={"instrument": "eortc-net", "timepoint": "baseline", "answers": answers},
        headers=patient,
    )
    assert submitted.status_code == 201, submitted.text
    diary = await pro.put(
        f"/v1/me/diary/{local_today().isoformat()}",
        json={"doses": [], "symptoms": {"temperature_c": TEMPERATURE}, "note": NOTE},
        headers=patient,
    )
    assert diary.status_code in (200, 201, 422), diary.text
    refreshed = await pro.post("/v1/auth/refresh", json={"refresh_token": refresh})
    assert refreshed.status_code == 200, refreshed.text
    wrong = await pro.post("/v1/auth/activate", json={"activation_code": code[::-1]})
    assert wrong.status_code in (401, 429)

    # safety_api: webhook secret, subject, labs with values, a symptom report.
    safety_site = await create_site(safety, tokens, aud="safety_api")
    hook = await safety.put(
        f"/v1/sites/{safety_site}/webhook",
        json={"url": "https://example.org/hook", "secret": WEBHOOK_SECRET},
        headers=tokens.headers("site_admin", site=safety_site),
    )
    assert hook.status_code == 200, hook.text
    service = tokens.headers("service")
    safety_subject = new_subject_id(safety_site)
    await safety.put(
        f"/v1/subjects/{safety_subject}",
        json={"site_id": safety_site, "treatment_start": "2026-01-05"},
        headers=service,
    )
    now = dt.datetime.now(dt.UTC).isoformat()
    lab = {"analyte": "ALT", "value": LAB_VALUE, "unit": "U/L", "ref_low": 7, "ref_high": 40}
    labs = await safety.post(
        "/v1/labs",
        json={"subject_id": safety_subject, "collected_at": now, "results": [lab]},
        headers=tokens.headers("ehr_client", site=safety_site),
    )
    assert labs.status_code == 201, labs.text
    bad_lab = await safety.post(
        "/v1/labs",
        json={"subject_id": safety_subject, "collected_at": now, "results": [{**lab, "unit": "?"}]},
        headers=tokens.headers("ehr_client", site=safety_site),
    )
    assert bad_lab.status_code == 422
    symptoms = await safety.post(
        "/v1/symptom-reports",
        json={
            "subject_id": safety_subject,
            "reported_at": now,
            "source": "diary",
            "report": {"temperature_c": TEMPERATURE, "vomiting_episodes": 4},
        },
        headers=service,
    )
    assert symptoms.status_code == 201, symptoms.text

    output = log_output.getvalue()
    assert output, "nothing was logged: the capture is not working"
    secrets = {
        "activation code": code,
        "access token": access,
        "access token claims": access.split(".")[1],
        "refresh token": refresh,
        "new refresh token": refreshed.json()["refresh_token"],
        "webhook secret": WEBHOOK_SECRET,
        "webhook secret key": WEBHOOK_SECRET.removeprefix("whsec_"),
        "lab value": str(LAB_VALUE),
        "temperature": str(TEMPERATURE),
        "diary note": "MARKER-4417",
        "answers": json.dumps(answers)[:40],
    }
    leaked = [name for name, value in secrets.items() if value in output]
    assert not leaked, f"the logs hold: {leaked}"
    assert '"answers"' not in output and "'answers'" not in output
