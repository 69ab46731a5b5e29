"""``Idempotency-Key`` for creating requests (IETF draft semantics), stored per principal.

- First request with a key: an ``in_flight`` row is committed at once, so a concurrent retry gets
  409; the handler's response is written into the *same transaction* as the data it created
  (:meth:`Idempotency.respond`), so the data and its replayable response commit together or not at
  all. A failed request releases its key so the client can retry.
- Same key, same method, path and body: the stored response is replayed.
- Same key, different request: 422.
- A process that died mid-request leaves an in-flight row whose lease expires
  (``CAPTEM_IDEMPOTENCY_LEASE_S``); since its data did not commit, the next retry takes over.
- Sealed at rest: a stored response is a copy of what the request created (lab values, answers,
  an activation code), so the row keeps only a SHA-256 of the key and the response encrypted
  (AES-256-GCM) under a key derived (HKDF-SHA256) from the client's Idempotency-Key itself. The
  server can open it only when the client retries with that key; someone reading the database
  or a backup cannot. (As strong as the client's key: the apps send random UUIDs.)
- Kept ``CAPTEM_IDEMPOTENCY_RETENTION_H`` (72 h): older keys are pruned by a background task and
  never replayed; a retry after that is a new request.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from sqlalchemy import and_, delete, select, update
from sqlalchemy.exc import IntegrityError

from services.common.auth import CurrentPrincipal
from services.common.db import Database, utcnow
from services.common.errors import Problem
from services.common.session import SessionDep, on_rollback

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
SEALED = "aesgcm1:"


def key_digest(principal: str, key: str) -> str:
    """What the database keeps of a client's Idempotency-Key."""
    return hashlib.sha256(
        b"captem idempotency key\n" + principal.encode() + b"\n" + key.encode()
    ).hexdigest()


def _cipher(principal: str, key: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=principal.encode(),
        info=b"captem idempotency response v1",
    ).derive(key.encode())
    return AESGCM(derived)


def seal(principal: str, key: str, fingerprint: str, body: str) -> str:
    nonce = os.urandom(12)
    sealed = _cipher(principal, key).encrypt(nonce, body.encode(), fingerprint.encode())
    return SEALED + base64.b64encode(nonce + sealed).decode()


def unseal(principal: str, key: str, fingerprint: str, stored: str) -> str | None:
    """The stored response, or None if it cannot be opened with this key."""
    if not stored.startswith(SEALED):
        return stored  # written before responses were sealed
    raw = base64.b64decode(stored[len(SEALED) :])
    try:
        return _cipher(principal, key).decrypt(raw[:12], raw[12:], fingerprint.encode()).decode()
    except (InvalidTag, ValueError):
        return None


_PLAIN = (str, int, float, bool, type(None))


def to_jsonable(value: Any) -> Any:
    """What ``jsonable_encoder`` answers, without its cost on the plain dicts, lists, strings and
    numbers a response is mostly made of (a 100-result lab batch is thousands of them); anything
    else (datetimes, Decimals, models) still goes through ``jsonable_encoder``."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return {
            key if isinstance(key, str) else jsonable_encoder(key): to_jsonable(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    return jsonable_encoder(value)


class IdempotentReplay(Exception):
    def __init__(self, status: int, body: str, headers: Mapping[str, str]) -> None:
        self.status, self.body, self.headers = status, body, dict(headers)


@dataclass
class Idempotency:
    """Handed to creating handlers. ``respond`` builds the response and stores it for replay."""

    key: str | None = None
    row_id: int | None = None
    completed: bool = False
    _tables: Any = field(default=None, repr=False)
    _principal: str = field(default="", repr=False)
    _fingerprint: str = field(default="", repr=False)

    async def respond(
        self, session: Any, status_code: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> JSONResponse:
        body = to_jsonable(payload)
        response = JSONResponse(body, status_code=status_code, headers=dict(headers or {}))
        if self.row_id is not None:
            table = self._tables.idempotency_keys
            await session.execute(
                update(table)
                .where(table.c.id == self.row_id)
                .values(
                    state="completed",
                    status_code=status_code,
                    locked_until=None,
                    response_body=seal(
                        self._principal,
                        self.key or "",
                        self._fingerprint,
                        bytes(response.body).decode(),
                    ),
                    response_headers=dict(headers or {}),
                    completed_at=utcnow(),
                )
            )
            self.completed = True
        return response


def _fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


async def idempotency(
    request: Request, principal: CurrentPrincipal, session: SessionDep
) -> AsyncIterator[Idempotency]:
    key = request.headers.get(HEADER)
    tables = request.app.state.tables
    if key is None:
        yield Idempotency(_tables=tables)
        return
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Problem(
            400,
            f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} printable "
            "characters; a random UUID is a good choice.",
            slug="bad-idempotency-key",
        )
    table = tables.idempotency_keys
    fingerprint = _fingerprint(request.method, request.url.path, await request.body())
    digest = key_digest(principal.key, key)
    now = utcnow()
    settings = request.app.state.settings
    lease = dt.timedelta(seconds=settings.idempotency_lease_s)
    kept_since = now - dt.timedelta(hours=settings.idempotency_retention_h)
    db = request.app.state.db
    async with db.sessionmaker() as claim:
        row = (
            (
                await claim.execute(
                    select(table).where(
                        and_(table.c.principal == principal.key, table.c.key == digest)
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is not None and row["created_at"] < kept_since:  # expired, not yet pruned
            await claim.execute(delete(table).where(table.c.id == row["id"]))
            await claim.commit()
            row = None
        if row is None:
            try:
                row_id = (
                    await claim.execute(
                        table.insert()
                        .values(
                            principal=principal.key,
                            key=digest,
                            fingerprint=fingerprint,
                            state="in_flight",
                            locked_until=now + lease,
                            created_at=now,
                        )
                        .returning(table.c.id)
                    )
                ).scalar_one()
                await claim.commit()
            except IntegrityError:
                await claim.rollback()
                raise _in_flight() from None
        elif row["fingerprint"] != fingerprint:
            raise Problem(
                422,
                f"This {HEADER} was already used for a different request. Use a "
                "new key for a new request; reuse a key only to retry the very same "
                "request.",
                slug="idempotency-key-reused",
            )
        elif row["state"] == "completed":
            body = unseal(principal.key, key, fingerprint, row["response_body"] or "")
            if body is None:  # cannot happen short of tampering: never answer with a guess
                raise Problem(
                    409,
                    f"The response stored for this {HEADER} cannot be read back. Use a new "
                    "key; first check whether the earlier request took effect.",
                    slug="idempotency-response-unreadable",
                )
            raise IdempotentReplay(row["status_code"], body, row["response_headers"] or {})
        elif row["locked_until"] is not None and row["locked_until"] > now:
            raise _in_flight()
        else:  # the first attempt died mid-flight without committing: take it over
            row_id = row["id"]
            await claim.execute(
                update(table).where(table.c.id == row_id).values(locked_until=now + lease)
            )
            await claim.commit()

    async def release() -> None:
        async with db.sessionmaker() as cleanup:
            await cleanup.execute(
                delete(table).where(and_(table.c.id == row_id, table.c.state == "in_flight"))
            )
            await cleanup.commit()

    on_rollback(request, release)
    idem = Idempotency(
        key=key,
        row_id=row_id,
        _tables=tables,
        _principal=principal.key,
        _fingerprint=fingerprint,
    )
    yield idem
    if not idem.completed:  # handler answered without storing (e.g. an error response)
        await session.execute(delete(table).where(table.c.id == row_id))


def _in_flight() -> Problem:
    return Problem(
        409,
        f"A request with this {HEADER} is still being processed. Wait a moment "
        "and retry with the same key.",
        slug="idempotency-in-flight",
        headers={"Retry-After": "1"},
    )


IdempotencyDep = Annotated[Idempotency, Depends(idempotency, scope="function")]


def install_idempotency_handler(app: FastAPI) -> None:
    @app.exception_handler(IdempotentReplay)
    async def _replay(_request: Request, exc: IdempotentReplay) -> Response:
        headers = {**exc.headers, "Idempotent-Replayed": "true"}
        return Response(
            exc.body, status_code=exc.status, headers=headers, media_type="application/json"
        )


def stored_body(replay: IdempotentReplay) -> Any:
    return json.loads(replay.body)


async def prune_expired(db: Database, tables: Any, *, retention_h: int) -> int:
    """Delete keys older than the retention period (a periodic task); returns how many."""
    table = tables.idempotency_keys
    cutoff = utcnow() - dt.timedelta(hours=retention_h)
    async with db.sessionmaker() as session:
        result = await session.execute(delete(table).where(table.c.created_at < cutoff))
        await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
