"""Activation: the code from the study team becomes a session on the phone, once; wrong codes
get one plain answer; a client guessing codes is made to wait, on every replica."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from services.pro_api.models import Patient
from tests.pro_api.patients.factories import (
    activate,
    bearer,
    db_of,
    enrol,
    expire_activation_codes,
    from_address,
    new_client_ip,
    refresh,
    refresh_tokens_of,
    staff,
)


async def test_activation_code_gives_a_patient_access_token_and_a_refresh_token(
    pro, tokens, settings
) -> None:
    patient = await enrol(pro, tokens)
    response = await activate(pro, patient["activation_code"])
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == settings.access_token_ttl_s
    assert pair["refresh_token"] and pair["refresh_token"] != pair["access_token"]
    assert response.headers["cache-control"] == "no-store"
    principal = tokens.service.verify(pair["access_token"], "pro_api")
    assert principal.role == "patient"
    assert principal.sub == principal.pid == patient["id"]
    assert principal.site == patient["site_id"]
    own = await pro.get(f"/v1/patients/{patient['id']}", headers=bearer(pair["access_token"]))
    assert own.status_code == 200
    assert own.json()["activated_at"] is not None


async def test_refresh_token_is_stored_only_as_a_hash(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    pair = (await activate(pro, patient["activation_code"])).json()
    [stored] = await refresh_tokens_of(pro, patient["id"])
    assert pair["refresh_token"] not in repr(stored.model_dump())


@pytest.mark.parametrize(
    "typed",
    [
        lambda code: code.lower(),
        lambda code: code.replace("-", ""),
        lambda code: " ".join([code[:5], code[6:]]),
        lambda code: code.replace("0", "O").replace("1", "l"),
    ],
    ids=["lower-case", "without-dash", "with-space", "O-for-zero-l-for-one"],
)
async def test_activation_code_is_forgiving_about_how_it_is_typed(pro, tokens, typed) -> None:
    patient = await enrol(pro, tokens)
    response = await activate(pro, typed(patient["activation_code"]))
    assert response.status_code == 200, response.text


async def test_an_activation_code_works_only_once(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    first = await activate(pro, patient["activation_code"])
    assert first.status_code == 200
    assert (await refresh(pro, first.json()["refresh_token"])).status_code == 200  # in use
    again = await activate(pro, patient["activation_code"])
    assert again.status_code == 401
    assert again.headers["content-type"] == "application/problem+json"


async def test_a_phone_that_lost_the_activation_answer_may_retry_at_once(pro, tokens) -> None:
    # The answer to the first activation never reached the phone; its session is untouched.
    patient = await enrol(pro, tokens)
    lost = (await activate(pro, patient["activation_code"])).json()
    retried = await activate(pro, patient["activation_code"])
    assert retried.status_code == 200, retried.text
    assert (await refresh(pro, retried.json()["refresh_token"])).status_code == 200
    assert (await refresh(pro, lost["refresh_token"])).status_code == 401  # signed out


async def test_an_activation_retry_after_the_grace_period_is_refused(client_for, tokens) -> None:
    from tests.conftest import make_settings

    pro = await client_for("pro_api")
    strict = await client_for(
        "pro_api",
        app_settings=make_settings(
            {
                "pro_api": pro.app.state.settings.pro_database_url,
                "safety_api": pro.app.state.settings.safety_database_url,
            },
            pro.app.state.settings.data_dir,
            auth_retry_grace_s=0,
        ),
    )
    patient = await enrol(strict, tokens)
    assert (await activate(strict, patient["activation_code"])).status_code == 200
    assert (await activate(strict, patient["activation_code"])).status_code == 401


async def test_an_expired_activation_code_is_refused(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    await expire_activation_codes(pro, patient["id"])
    response = await activate(pro, patient["activation_code"])
    assert response.status_code == 401


async def test_unknown_used_and_expired_codes_get_the_same_plain_answer(pro, tokens) -> None:
    used = await enrol(pro, tokens)
    session = (await activate(pro, used["activation_code"])).json()
    await refresh(pro, session["refresh_token"])  # the session is in use: the code is spent
    expired = await enrol(pro, tokens)
    await expire_activation_codes(pro, expired["id"])
    answers = [
        (await activate(pro, code)).json()
        for code in (
            "ZZZZZ-ZZZZZ",
            "not a code",
            used["activation_code"],
            expired["activation_code"],
        )
    ]
    assert {a["status"] for a in answers} == {401}
    assert len({a["detail"] for a in answers}) == 1
    assert "ask the study team for a new code" in answers[0]["detail"]


async def test_a_new_code_replaces_the_unused_one(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    issued = await pro.post(
        f"/v1/patients/{patient['id']}/activation-code", headers=staff(tokens, patient["site_id"])
    )
    assert issued.status_code == 201
    assert issued.json()["activation_code"] != patient["activation_code"]
    assert (await activate(pro, patient["activation_code"])).status_code == 401
    assert (await activate(pro, issued.json()["activation_code"])).status_code == 200


async def test_activating_a_new_code_signs_out_the_earlier_phone(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    old_phone = (await activate(pro, patient["activation_code"])).json()
    issued = await pro.post(
        f"/v1/patients/{patient['id']}/activation-code", headers=staff(tokens, patient["site_id"])
    )
    assert (await activate(pro, issued.json()["activation_code"])).status_code == 200
    refreshed = await pro.post(
        "/v1/auth/refresh", json={"refresh_token": old_phone["refresh_token"]}
    )
    assert refreshed.status_code == 401


@pytest.mark.parametrize("status", ["withdrawn", "completed"])
async def test_a_patient_no_longer_on_study_cannot_activate(pro, tokens, status) -> None:
    patient = await enrol(pro, tokens)
    async with db_of(pro).sessionmaker() as session:
        await session.execute(
            update(Patient)
            .where(Patient.id == patient["id"])  # type: ignore[arg-type]
            .values(status=status)
        )
        await session.commit()
    assert (await activate(pro, patient["activation_code"])).status_code == 401


async def test_sixth_wrong_guess_from_one_client_is_429_with_retry_after(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    ip = new_client_ip()
    for _ in range(5):
        assert (await activate(pro, "ZZZZZ-ZZZZZ", ip=ip)).status_code == 401
    sixth = await activate(pro, "ZZZZZ-ZZZZZ", ip=ip)
    assert sixth.status_code == 429
    assert 1 <= int(sixth.headers["retry-after"]) <= 15 * 60
    assert "wait 15 minutes" in sixth.json()["detail"]
    # Even the right code waits: the limit is on trying, not on being wrong.
    assert (await activate(pro, patient["activation_code"], ip=ip)).status_code == 429
    # Another client is not affected, and the code was not spent by the refused attempt.
    assert (await activate(pro, patient["activation_code"])).status_code == 200


async def test_successful_activations_do_not_count_against_the_client(pro, tokens) -> None:
    ip = new_client_ip()
    for _ in range(6):
        patient = await enrol(pro, tokens)
        assert (await activate(pro, patient["activation_code"], ip=ip)).status_code == 200
    assert (await activate(pro, "ZZZZZ-ZZZZZ", ip=ip)).status_code == 401


async def test_the_guess_limit_holds_across_replicas(client_for, tokens) -> None:
    replica_a = await client_for("pro_api")
    replica_b = await client_for("pro_api")
    ip = new_client_ip()
    for replica in (replica_a, replica_b, replica_a, replica_b, replica_a):
        assert (await activate(replica, "ZZZZZ-ZZZZZ", ip=ip)).status_code == 401
    assert (await activate(replica_b, "ZZZZZ-ZZZZZ", ip=ip)).status_code == 429


async def test_guesses_fired_in_parallel_cannot_exceed_the_limit(pro) -> None:
    import asyncio

    ip = new_client_ip()
    async with from_address(pro, ip) as client:
        responses = await asyncio.gather(
            *(
                client.post("/v1/auth/activate", json={"activation_code": "ZZZZZ-ZZZZZ"})
                for _ in range(8)
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * 5 + [429] * 3


async def test_many_phones_behind_one_address_may_activate_at_the_same_moment(pro, tokens) -> None:
    """A clinic's waiting room shares one public address: eight right codes at once are not eight
    guesses, and none of them uses up the budget for a later wrong one."""
    import asyncio

    patients = [await enrol(pro, tokens) for _ in range(8)]
    ip = new_client_ip()
    async with from_address(pro, ip) as client:
        responses = await asyncio.gather(
            *(
                client.post("/v1/auth/activate", json={"activation_code": p["activation_code"]})
                for p in patients
            )
        )
    assert [r.status_code for r in responses] == [200] * 8
    for _ in range(5):
        assert (await activate(pro, "ZZZZZ-ZZZZZ", ip=ip)).status_code == 401
    assert (await activate(pro, "ZZZZZ-ZZZZZ", ip=ip)).status_code == 429


async def test_a_used_code_typed_again_is_refused_but_is_not_a_guess(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    ip = new_client_ip()
    assert (await activate(pro, patient["activation_code"], ip=ip)).status_code == 200
    await expire_activation_codes(pro, patient["id"])
    for _ in range(6):
        assert (await activate(pro, patient["activation_code"], ip=ip)).status_code == 401
    assert (await activate(pro, "ZZZZZ-ZZZZZ", ip=ip)).status_code == 401


async def test_activation_needs_a_code_in_the_body(pro) -> None:
    async with from_address(pro, new_client_ip()) as client:
        missing = await client.post("/v1/auth/activate", json={})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "body.activation_code"
