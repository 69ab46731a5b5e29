"""Refresh: each refresh token is good for one renewal; a rotated token presented again means it
was copied, so the whole family is signed out. Patients off study cannot renew."""

from __future__ import annotations

import asyncio

import pytest

from tests.pro_api.patients.factories import (
    audit_events,
    bearer,
    expire_refresh_tokens,
    refresh,
    refresh_tokens_of,
    signed_in,
    staff,
)


async def test_refresh_returns_a_new_pair_whose_access_token_works(pro, tokens) -> None:
    patient, pair = await signed_in(pro, tokens)
    response = await refresh(pro, pair["refresh_token"])
    assert response.status_code == 200, response.text
    renewed = response.json()
    assert renewed["refresh_token"] != pair["refresh_token"]
    assert renewed["token_type"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"
    own = await pro.get(f"/v1/patients/{patient['id']}", headers=bearer(renewed["access_token"]))
    assert own.status_code == 200


async def test_enrol_activate_refresh_then_the_old_token_again_revokes_the_family(
    pro, tokens
) -> None:
    patient, pair = await signed_in(pro, tokens)
    renewed = (await refresh(pro, pair["refresh_token"])).json()
    second = (await refresh(pro, renewed["refresh_token"])).json()

    reused = await refresh(pro, pair["refresh_token"])
    assert reused.status_code == 401
    assert reused.headers["content-type"] == "application/problem+json"
    # The thief's copy and the phone's current token are both dead now.
    assert (await refresh(pro, second["refresh_token"])).status_code == 401
    stored = await refresh_tokens_of(pro, patient["id"])
    assert len(stored) == 3 and all(t.revoked_at is not None for t in stored)
    actions = [e["action"] for e in await audit_events(pro, patient["id"])]
    assert actions[-1] == "patient.refresh_token_reuse"


async def test_a_phone_that_lost_the_refresh_answer_may_retry_at_once(pro, tokens) -> None:
    _, pair = await signed_in(pro, tokens)
    lost = (await refresh(pro, pair["refresh_token"])).json()  # never reached the phone
    retried = await refresh(pro, pair["refresh_token"])
    assert retried.status_code == 200, retried.text
    assert (await refresh(pro, retried.json()["refresh_token"])).status_code == 200
    assert (await refresh(pro, lost["refresh_token"])).status_code == 401


async def test_a_refresh_retry_after_the_new_token_was_used_revokes_the_family(pro, tokens) -> None:
    _, pair = await signed_in(pro, tokens)
    renewed = (await refresh(pro, pair["refresh_token"])).json()
    current = (await refresh(pro, renewed["refresh_token"])).json()
    latest = (await refresh(pro, current["refresh_token"])).json()  # the new token was used
    assert (await refresh(pro, renewed["refresh_token"])).status_code == 401
    assert (await refresh(pro, latest["refresh_token"])).status_code == 401


async def test_the_same_token_refreshed_twice_at_once_yields_one_session(pro, tokens) -> None:
    _, pair = await signed_in(pro, tokens)
    responses = await asyncio.gather(
        refresh(pro, pair["refresh_token"]), refresh(pro, pair["refresh_token"])
    )
    # A phone double-sending is the lost-answer case (or, when the two truly overlap, a reuse
    # that revokes the family): either way at most one session works afterwards.
    issued = [r.json()["refresh_token"] for r in responses if r.status_code == 200]
    assert issued and all(r.status_code in (200, 401) for r in responses)
    working = [t for t in issued if (await refresh(pro, t)).status_code == 200]
    assert len(working) <= 1


async def test_an_unknown_refresh_token_is_401(pro) -> None:
    response = await refresh(pro, "made-up-token")
    assert response.status_code == 401
    assert "ask them for a new activation code" in response.json()["detail"]


async def test_an_expired_refresh_token_is_401(pro, tokens) -> None:
    patient, pair = await signed_in(pro, tokens)
    await expire_refresh_tokens(pro, patient["id"])
    assert (await refresh(pro, pair["refresh_token"])).status_code == 401


@pytest.mark.parametrize("ending", ["withdraw", "complete"])
async def test_a_patient_withdrawn_or_completed_cannot_refresh(pro, tokens, ending) -> None:
    patient, pair = await signed_in(pro, tokens)
    ended = await pro.post(
        f"/v1/patients/{patient['id']}/{ending}",
        json={"reason": "withdrew consent" if ending == "withdraw" else "24-month follow-up done"},
        headers=staff(tokens, patient["site_id"]),
    )
    assert ended.status_code == 200, ended.text
    assert (await refresh(pro, pair["refresh_token"])).status_code == 401
    stored = await refresh_tokens_of(pro, patient["id"])
    assert all(t.revoked_at is not None for t in stored)
