"""Activation codes and refresh tokens in the database.

These lookups run before anyone is signed in (the code or token *is* the credential), so unlike
the patient repository they take no principal; every write is conditional on the row still being
usable, so two concurrent requests can never both spend the same code or rotate the same token.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.pro_api.auth.codes import (
    activation_code_hash,
    hash_secret,
    new_activation_code,
    new_refresh_token,
)
from services.pro_api.models import ActivationCode, RefreshToken


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


async def issue_activation_code(
    session: AsyncSession, patient_id: str, *, now: dt.datetime, ttl_s: int
) -> tuple[str, dt.datetime]:
    """A new code for the patient; earlier unused codes stop working. Returns (code, expiry)."""
    await revoke_unused_activation_codes(session, patient_id, now=now)
    code = new_activation_code()
    expires_at = now + dt.timedelta(seconds=ttl_s)
    session.add(
        ActivationCode(
            id=str(uuid.uuid4()),
            patient_id=patient_id,
            code_hash=activation_code_hash(code),
            expires_at=expires_at,
            created_at=now,
        )
    )
    await session.flush()
    return code, expires_at


async def revoke_unused_activation_codes(
    session: AsyncSession, patient_id: str, *, now: dt.datetime
) -> None:
    await session.execute(
        update(ActivationCode)
        .where(
            col(ActivationCode.patient_id) == patient_id,
            col(ActivationCode.used_at).is_(None),
            col(ActivationCode.revoked_at).is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


async def find_activation_code(session: AsyncSession, code_hash: str) -> ActivationCode | None:
    query = select(ActivationCode).where(col(ActivationCode.code_hash) == code_hash)
    return (await session.execute(query)).scalar_one_or_none()


async def spend_activation_code(session: AsyncSession, code_id: str, *, now: dt.datetime) -> bool:
    """Mark the code used; False if it was used, revoked or had expired in the meantime."""
    result = await session.execute(
        update(ActivationCode)
        .where(
            col(ActivationCode.id) == code_id,
            col(ActivationCode.used_at).is_(None),
            col(ActivationCode.revoked_at).is_(None),
            col(ActivationCode.expires_at) > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def activated_at(session: AsyncSession, patient_ids: list[str]) -> dict[str, dt.datetime]:
    """When each patient last activated a phone (absent: never)."""
    if not patient_ids:
        return {}
    rows = await session.execute(
        select(col(ActivationCode.patient_id), func.max(col(ActivationCode.used_at)))
        .where(
            col(ActivationCode.patient_id).in_(patient_ids),
            col(ActivationCode.used_at).is_not(None),
        )
        .group_by(col(ActivationCode.patient_id))
    )
    return {pid: when for pid, when in rows.all() if when is not None}


async def issue_refresh_token(
    session: AsyncSession,
    patient_id: str,
    *,
    family_id: str | None,
    now: dt.datetime,
    ttl_s: int,
) -> tuple[str, RefreshToken]:
    """A new refresh token, in ``family_id``'s family or (None) starting a new family."""
    token = new_refresh_token()
    row = RefreshToken(
        id=str(uuid.uuid4()),
        patient_id=patient_id,
        family_id=family_id or str(uuid.uuid4()),
        token_hash=hash_secret(token),
        expires_at=now + dt.timedelta(seconds=ttl_s),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return token, row


async def find_refresh_token(session: AsyncSession, token: str) -> RefreshToken | None:
    query = select(RefreshToken).where(col(RefreshToken.token_hash) == hash_secret(token))
    return (await session.execute(query)).scalar_one_or_none()


async def rotate_refresh_token(session: AsyncSession, token_id: str, *, now: dt.datetime) -> bool:
    """Mark the token rotated; False if another request rotated or revoked it first."""
    result = await session.execute(
        update(RefreshToken)
        .where(
            col(RefreshToken.id) == token_id,
            col(RefreshToken.rotated_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(rotated_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def revoke_refresh_family(session: AsyncSession, family_id: str, *, now: dt.datetime) -> int:
    result = await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def revoke_patient_refresh_tokens(
    session: AsyncSession, patient_id: str, *, now: dt.datetime
) -> int:
    """Sign the patient out everywhere: every refresh token of every family stops working."""
    result = await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.patient_id) == patient_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def unused_tokens_since(
    session: AsyncSession, patient_id: str, *, since: dt.datetime, family_id: str | None = None
) -> list[RefreshToken] | None:
    """The patient's refresh tokens issued since ``since`` (in one family, if given), or None
    when any of them has been used or revoked: then the session was taken up, not lost."""
    query = select(RefreshToken).where(
        col(RefreshToken.patient_id) == patient_id, col(RefreshToken.created_at) >= since
    )
    if family_id is not None:
        query = query.where(col(RefreshToken.family_id) == family_id)
    issued = list((await session.execute(query)).scalars())
    if any(t.rotated_at is not None or t.revoked_at is not None for t in issued):
        return None
    return issued


async def revoke_unused_tokens(
    session: AsyncSession, token_ids: list[str], *, now: dt.datetime
) -> bool:
    """Revoke tokens nobody has used; False if one of them was used in the meantime."""
    if not token_ids:
        return True
    result = await session.execute(
        update(RefreshToken)
        .where(
            col(RefreshToken.id).in_(token_ids),
            col(RefreshToken.rotated_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == len(token_ids)
