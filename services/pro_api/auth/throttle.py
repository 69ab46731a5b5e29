"""The activation-code guess limit: a few wrong codes per client, then wait.

Every attempt is judged in its own committed transaction before anything else happens: the
client's failures in the window are counted, and the typed code is looked up. A code that is not
one the study ever issued is a wrong guess, recorded as a row in ``activation_attempts`` in that
same transaction, so the limit holds across replicas and for guesses racing in parallel (on
PostgreSQL the count, the look-up and the record are serialised per client with a
transaction-scoped advisory lock; SQLite serialises writers already). A code the study did issue
is not a guess, whatever its state (used, expired, replaced): it leaves no row, so many phones
behind one clinic's address can activate at the same moment. Rows older than the window are
pruned as attempts arrive.

The client is the peer address of the ASGI scope (uvicorn runs with proxy headers, so behind a
trusted proxy it is the phone's address). Many patients behind one clinic NAT share a budget.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text
from sqlmodel import col

from services.common.db import Database
from services.common.errors import Problem
from services.pro_api.auth import repository
from services.pro_api.models import ActivationAttempt

MAX_CLIENT_LENGTH = 64


@dataclass(frozen=True)
class GuessLimit:
    max_failures: int
    window_s: int


class TooManyAttempts(Problem):
    def __init__(self, retry_after_s: int) -> None:
        minutes = max(1, math.ceil(retry_after_s / 60))
        super().__init__(
            429,
            "Too many activation codes were tried from this device. Please wait "
            f"{minutes} minute{'s' if minutes != 1 else ''} and try again, or ask the study "
            "team for a new code.",
            slug="too-many-activation-attempts",
            headers={"Retry-After": str(retry_after_s)},
        )


def _lock_key(client: str) -> int:
    digest = hashlib.sha256(b"captem activation attempts\n" + client.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def judge_attempt(
    db: Database, client: str, code_hash: str | None, *, limit: GuessLimit, now: dt.datetime
) -> bool:
    """Refuse the attempt (429) if the client's budget is spent; otherwise say whether the code is
    one the study issued. A code that is not (``code_hash`` is None for one that cannot even be a
    code) is recorded as the client's failure before this returns False.
    """
    client = client[:MAX_CLIENT_LENGTH]
    cutoff = now - dt.timedelta(seconds=limit.window_s)
    async with db.sessionmaker() as session:
        if db.is_postgres:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(client)}
            )
        await session.execute(
            delete(ActivationAttempt).where(col(ActivationAttempt.attempted_at) < cutoff)
        )
        count, oldest = (
            await session.execute(
                select(func.count(), func.min(col(ActivationAttempt.attempted_at))).where(
                    col(ActivationAttempt.client) == client,
                    col(ActivationAttempt.attempted_at) >= cutoff,
                )
            )
        ).one()
        if count >= limit.max_failures:
            await session.commit()
            frees_at = oldest + dt.timedelta(seconds=limit.window_s)
            raise TooManyAttempts(max(1, math.ceil((frees_at - now).total_seconds())))
        issued = (
            code_hash is not None
            and await repository.find_activation_code(session, code_hash) is not None
        )
        if not issued:
            session.add(ActivationAttempt(client=client, attempted_at=now))
        await session.commit()
        return issued
