"""Patient sign-in: an activation code buys a session; a refresh token renews it, once.

- Activation: the code must exist, be unused, not replaced by a newer one, not expired, and its
  patient still on study. Whatever is wrong, the answer is the same plain 401, so a guesser learns
  nothing; the guess limit (:mod:`throttle`) bounds how often one client may try. Activating
  signs out any earlier phone of the patient (a new code means a new or reset device).
- Refresh tokens rotate (OAuth 2.0 Security BCP, RFC 9700 §4.14.2): each one is good for one
  refresh. A rotated token presented again means two parties hold the family, so the whole family
  is revoked; that revocation is committed even though the request itself fails.
- Lost answers: phones on bad connections retry. Within ``auth_retry_grace_s`` (30 s) of an
  activation or a rotation, the same code or refresh token is accepted again *if the session it
  produced is still untouched* (its refresh token never used); that unused session is revoked and
  a fresh one issued, and the retry is audited. Once the new session has been used, or after the
  grace period, the old code or token is dead as above (a reuse-interval, as OAuth servers use).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal, Role, TokenService, Unauthorized
from services.common.db import Database, utcnow
from services.common.settings import Settings
from services.pro_api.auth import repository, throttle
from services.pro_api.auth.codes import hash_secret, normalise_activation_code
from services.pro_api.auth.schemas import TokenPair
from services.pro_api.models import ActivationCode, Patient, tables

BAD_CODE = (
    "This activation code does not work. Check that you typed it exactly as it is printed; "
    "codes can only be used once and expire. If it still does not work, ask the study team for "
    "a new code."
)
SESSION_ENDED = (
    "Your sign-in on this phone has ended. Open the activation link from the study team again, "
    "or ask them for a new activation code."
)

Deferred = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class SignIn:
    """What sign-in needs from the running app."""

    tokens: TokenService
    settings: Settings
    db: Database
    # Runs a callback after the request's transaction rolled back (session.on_rollback).
    after_rollback: Callable[[Deferred], None]


def patient_principal(sign_in: SignIn, patient: Patient) -> Principal:
    """The patient as the audit trail will know them from their own tokens later."""
    return Principal(
        sub=patient.id,
        role=Role.PATIENT,
        issuer=sign_in.tokens.issuer,
        site=patient.site_id,
        pid=patient.id,
    )


async def activate(
    session: AsyncSession, sign_in: SignIn, *, client: str, typed_code: str
) -> TokenPair:
    now = utcnow()
    limit = throttle.GuessLimit(
        sign_in.settings.activation_max_failures, sign_in.settings.activation_failure_window_s
    )
    canonical = normalise_activation_code(typed_code)
    code_hash = None if canonical is None else hash_secret(canonical)
    if not await throttle.judge_attempt(sign_in.db, client, code_hash, limit=limit, now=now):
        raise Unauthorized(BAD_CODE)
    assert code_hash is not None
    code = await repository.find_activation_code(session, code_hash)
    if code is None:
        raise Unauthorized(BAD_CODE)
    patient = await session.get(Patient, code.patient_id, with_for_update=True)
    if patient is None or patient.status != "active":
        raise Unauthorized(BAD_CODE)
    retry = False
    if not await repository.spend_activation_code(session, code.id, now=now):
        if not await _lost_activation_answer(session, sign_in, code, now=now):
            raise Unauthorized(BAD_CODE)
        retry = True
    signed_out = await repository.revoke_patient_refresh_tokens(session, patient.id, now=now)
    pair = await _issue_pair(session, sign_in, patient, family_id=None, now=now)
    await audit.record(
        session,
        tables,
        actor=patient_principal(sign_in, patient),
        action="patient.activate",
        entity_type="patient",
        entity_id=patient.id,
        site_id=patient.site_id,
        after={"earlier_sessions_revoked": signed_out, "retry_of_lost_answer": retry},
    )
    return pair


def _within_grace(sign_in: SignIn, since: dt.datetime | None, now: dt.datetime) -> bool:
    grace = dt.timedelta(seconds=sign_in.settings.auth_retry_grace_s)
    return since is not None and now - since <= grace


async def _lost_activation_answer(
    session: AsyncSession, sign_in: SignIn, code: ActivationCode, *, now: dt.datetime
) -> bool:
    """The code was spent moments ago and the session it bought is untouched: the phone never
    got the answer. (A revoked or expired code never qualifies.)"""
    if code.revoked_at is not None or code.expires_at <= now:
        return False
    if not _within_grace(sign_in, code.used_at, now) or code.used_at is None:
        return False
    issued = await repository.unused_tokens_since(session, code.patient_id, since=code.used_at)
    return issued is not None and await repository.revoke_unused_tokens(
        session, [t.id for t in issued], now=now
    )


async def refresh(session: AsyncSession, sign_in: SignIn, *, refresh_token: str) -> TokenPair:
    now = utcnow()
    token = await repository.find_refresh_token(session, refresh_token)
    if token is None or token.revoked_at is not None:
        raise Unauthorized(SESSION_ENDED)
    if token.expires_at <= now:
        raise Unauthorized(SESSION_ENDED)
    if token.rotated_at is not None:
        successors = None
        if _within_grace(sign_in, token.rotated_at, now):
            successors = await repository.unused_tokens_since(
                session, token.patient_id, since=token.rotated_at, family_id=token.family_id
            )
        if not successors or not await repository.revoke_unused_tokens(
            session, [t.id for t in successors], now=now
        ):
            _revoke_family_after_rollback(sign_in, token.family_id, token.patient_id)
            raise Unauthorized(SESSION_ENDED)
        # The phone never got the answer to its refresh: issue the pair again (below).
    patient = await session.get(Patient, token.patient_id)
    if patient is None or patient.status != "active":
        raise Unauthorized(SESSION_ENDED)
    if token.rotated_at is None and not await repository.rotate_refresh_token(
        session, token.id, now=now
    ):
        # Another request rotated it a moment ago: the same token is in two hands.
        _revoke_family_after_rollback(sign_in, token.family_id, token.patient_id)
        raise Unauthorized(SESSION_ENDED)
    return await _issue_pair(session, sign_in, patient, family_id=token.family_id, now=now)


async def _issue_pair(
    session: AsyncSession,
    sign_in: SignIn,
    patient: Patient,
    *,
    family_id: str | None,
    now: dt.datetime,
) -> TokenPair:
    settings = sign_in.settings
    refresh_token, _ = await repository.issue_refresh_token(
        session, patient.id, family_id=family_id, now=now, ttl_s=settings.refresh_token_ttl_s
    )
    access_token = sign_in.tokens.mint(
        role=Role.PATIENT,
        sub=patient.id,
        site=patient.site_id,
        pid=patient.id,
        audience="pro_api",
        ttl_s=settings.access_token_ttl_s,
        now=now,
    )
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=settings.access_token_ttl_s,
    )


def _revoke_family_after_rollback(sign_in: SignIn, family_id: str, patient_id: str) -> None:
    async def revoke() -> None:
        async with sign_in.db.sessionmaker() as session:
            now = utcnow()
            revoked = await repository.revoke_refresh_family(session, family_id, now=now)
            patient = await session.get(Patient, patient_id)
            if patient is not None:
                await audit.record(
                    session,
                    tables,
                    actor=patient_principal(sign_in, patient),
                    action="patient.refresh_token_reuse",
                    entity_type="patient",
                    entity_id=patient_id,
                    site_id=patient.site_id,
                    after={"family_id": family_id, "tokens_revoked": revoked},
                    reason="a refresh token was presented again after it had been rotated",
                )
            await session.commit()

    sign_in.after_rollback(revoke)
