"""Transactional outbox and its dispatcher.

A message is written by :func:`enqueue` in the same transaction as the data it is about, so it
exists if and only if that data committed. Dispatchers (any number, across replicas) claim due
messages with ``SELECT … FOR UPDATE SKIP LOCKED`` and a lease, deliver them over HTTP, record every
attempt, and retry on failure with the Standard Webhooks back-off schedule plus jitter. A message
is handed to one dispatcher at a time (exactly once to the outbox's consumer) and delivered at
least once over the wire; receivers dedupe by the message id. PostgreSQL ``LISTEN/NOTIFY`` wakes
dispatchers at once; otherwise they poll.

What a message means on the wire is up to a :class:`Deliverer` registered for its ``kind``; it
builds the HTTP request at delivery time (so a rotated secret or a fresh service token is used).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import Database, utcnow
from services.common.tables import PlatformTables

log = logging.getLogger("captem.outbox")
NOTIFY_CHANNEL = "captem_outbox"


@dataclass(frozen=True)
class OutboxMessage:
    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    created_at: dt.datetime


@dataclass(frozen=True)
class OutgoingRequest:
    url: str
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""


class Deliverer:
    """Turns an outbox message into an HTTP request; hooks for permanent outcomes."""

    async def prepare(self, message: OutboxMessage) -> OutgoingRequest | str:
        """The request to send, or a reason string when it can never be sent (message dies)."""
        raise NotImplementedError

    async def on_gone(self, message: OutboxMessage) -> None:
        """The receiver answered 410 Gone."""

    async def on_dead(self, message: OutboxMessage, reason: str) -> None:
        """The message will not be delivered (retries exhausted, gone, or unsendable)."""


class HttpJsonDeliverer(Deliverer):
    """Payload ``{"url", "method"?, "headers"?, "body"}``: sends the body as JSON as it is,
    with the message id as ``Idempotency-Key`` (unless the payload names its own) so the
    receiver can drop a redelivery."""

    async def prepare(self, message: OutboxMessage) -> OutgoingRequest:
        p = message.payload
        headers = {
            "content-type": "application/json",
            "idempotency-key": message.id,
            **p.get("headers", {}),
        }
        return OutgoingRequest(
            url=p["url"],
            method=p.get("method", "POST"),
            headers=headers,
            content=json.dumps(p["body"]).encode(),
        )


def _insert(session: AsyncSession, tables: PlatformTables) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(tables.outbox_messages)


async def enqueue(
    session: AsyncSession,
    tables: PlatformTables,
    kind: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    delay_s: float = 0.0,
) -> str | None:
    """Add a message in the caller's transaction. Returns its id, or None if ``dedupe_key``
    was already enqueued (the earlier message stands)."""
    now = utcnow()
    message_id = str(uuid.uuid4())
    stmt = _insert(session, tables).values(
        id=message_id,
        kind=kind,
        dedupe_key=dedupe_key,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=now + dt.timedelta(seconds=delay_s),
        created_at=now,
    )
    if dedupe_key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = await session.execute(stmt)
    if dedupe_key is not None and _rowcount(result) == 0:
        return None
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_notify(:channel, :kind)"), {"channel": NOTIFY_CHANNEL, "kind": kind}
        )
    session.info["outbox_enqueued"] = True
    return message_id


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def next_delay(
    schedule: Sequence[float], attempts_made: int, jitter: float, rng: random.Random | None = None
) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` failures; None when exhausted."""
    if attempts_made >= len(schedule):
        return None
    base = schedule[attempts_made]
    factor = 1.0 + (rng or random).uniform(-jitter, jitter)
    return max(0.0, base * factor)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        tables: PlatformTables,
        deliverers: Mapping[str, Deliverer],
        *,
        schedule: Sequence[float],
        jitter: float = 0.1,
        batch_size: int = 20,
        lease_s: float = 60.0,
        poll_interval_s: float = 1.0,
        http_timeout_s: float = 10.0,
        name: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        listen_dsn: str | None = None,
    ) -> None:
        self.db, self.tables, self.deliverers = db, tables, dict(deliverers)
        self.schedule, self.jitter = tuple(schedule), jitter
        self.batch_size, self.lease_s, self.poll_interval_s = batch_size, lease_s, poll_interval_s
        self.name = name or f"dispatcher-{uuid.uuid4().hex[:12]}"
        self.http = httpx.AsyncClient(
            timeout=http_timeout_s, transport=transport, follow_redirects=False
        )
        self.listen_dsn = listen_dsn
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: Any = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self.listen_dsn:
            await self._listen()
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def _listen(self) -> None:
        import asyncpg

        try:
            self._listener = await asyncpg.connect(self.listen_dsn)
            await self._listener.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError) as exc:  # polling still works
            log.warning("outbox LISTEN unavailable; polling only", extra={"error": str(exc)})
            self._listener = None

    async def stop(self, grace_s: float = 10.0) -> None:
        """Finish the deliveries in flight (up to ``grace_s``), then release any claims still
        held."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace_s)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self.release_claims()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
        await self.http.aclose()

    async def _loop(self) -> None:
        """Keep up to ``batch_size`` deliveries in flight, each on its own.

        A delivery that hangs (a receiver that never answers, until the HTTP timeout) holds only
        its own slot: the loop claims more messages as soon as it is woken or a slot frees up, so
        one site's dead endpoint does not delay another site's alert.
        """
        in_flight: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            full = len(in_flight) >= self.batch_size
            in_flight.discard(task)
            if full:  # a slot opened on a full pipeline: there may be more waiting
                self._wake.set()

        try:
            while not self._stopping:
                # Clear before claiming, not after: a wake-up that arrives while messages are
                # being claimed must not be lost (it would otherwise wait a whole poll interval).
                self._wake.clear()
                free = self.batch_size - len(in_flight)
                claimed: list[OutboxMessage] = []
                if free > 0:
                    try:
                        claimed = await self._claim(free)
                    except Exception:  # the database is down or restarting: keep trying
                        log.exception("outbox dispatch failed; retrying")
                for message in claimed:
                    task = asyncio.create_task(self._deliver_logged(message))
                    in_flight.add(task)
                    task.add_done_callback(finished)
                if self._stopping:
                    break
                if free == 0 or len(claimed) < free:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
            if in_flight:  # finish what is in hand; stop() bounds this with its grace
                await asyncio.gather(*in_flight, return_exceptions=True)
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _deliver_logged(self, message: OutboxMessage) -> None:
        try:
            await self._deliver(message)
        except Exception:  # recording the outcome failed; the lease expires and it is retried
            log.exception("outbox delivery failed", extra={"message_id": message.id})

    async def run_once(self) -> int:
        """Claim one batch of due messages and deliver them; returns how many were handled."""
        messages = await self._claim()
        if messages:
            await asyncio.gather(*(self._deliver(m) for m in messages))
        return len(messages)

    async def _claim(self, limit: int | None = None) -> list[OutboxMessage]:
        om = self.tables.outbox_messages
        now = utcnow()
        due = (
            select(om.c.id)
            .where(
                om.c.status == "pending",
                om.c.next_attempt_at <= now,
                or_(om.c.claimed_until.is_(None), om.c.claimed_until < now),
            )
            .order_by(om.c.next_attempt_at)
            .limit(limit or self.batch_size)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(om)
            .where(om.c.id.in_(due.scalar_subquery()))
            .values(claimed_by=self.name, claimed_until=now + dt.timedelta(seconds=self.lease_s))
            .returning(om.c.id, om.c.kind, om.c.payload, om.c.attempts, om.c.created_at)
        )
        async with self.db.sessionmaker() as session:
            rows = (await session.execute(stmt)).all()
            await session.commit()
        return [OutboxMessage(r.id, r.kind, r.payload, r.attempts, r.created_at) for r in rows]

    async def _deliver(self, message: OutboxMessage) -> None:
        deliverer = self.deliverers.get(message.kind)
        started = utcnow()
        clock = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        if deliverer is None:
            prepared: OutgoingRequest | str = f"no deliverer for kind {message.kind!r}"
        else:
            try:
                prepared = await deliverer.prepare(message)
            except Exception as exc:
                log.exception("outbox prepare failed", extra={"message_id": message.id})
                prepared = OutgoingRequest(url="")
                error = f"could not prepare the request: {type(exc).__name__}"
        if isinstance(prepared, str):
            await self._finish(message, deliverer, "dead", started, clock, None, prepared)
            return
        if error is None:
            try:
                response = await self.http.request(
                    prepared.method,
                    prepared.url,
                    headers=dict(prepared.headers),
                    content=prepared.content,
                )
                status_code = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
        if status_code is not None and 200 <= status_code < 300:
            outcome = "delivered"
        elif status_code == 410:
            outcome, error = "gone", "the receiver answered 410 Gone"
        else:
            outcome = "retry"
            if status_code is not None:
                error = f"the receiver answered HTTP {status_code}"
        await self._finish(message, deliverer, outcome, started, clock, status_code, error)

    async def _finish(
        self,
        message: OutboxMessage,
        deliverer: Deliverer | None,
        outcome: str,
        started: dt.datetime,
        clock: float,
        status_code: int | None,
        error: str | None,
    ) -> None:
        om, attempts_t = self.tables.outbox_messages, self.tables.outbox_attempts
        attempts = message.attempts + 1
        now = utcnow()
        values: dict[str, Any] = {
            "attempts": attempts,
            "claimed_by": None,
            "claimed_until": None,
            "last_error": error,
        }
        if outcome == "delivered":
            values.update(status="delivered", delivered_at=now)
        elif outcome in ("gone", "dead"):
            values.update(status="dead")
        else:
            delay = next_delay(self.schedule, attempts, self.jitter)
            if delay is None:
                outcome = "dead"
                values.update(
                    status="dead", last_error=f"{error}; gave up after {attempts} attempts"
                )
            else:
                values.update(next_attempt_at=now + dt.timedelta(seconds=delay))
        async with self.db.sessionmaker() as session:
            result = await session.execute(
                update(om)
                .where(and_(om.c.id == message.id, om.c.claimed_by == self.name))
                .values(**values)
            )
            if _rowcount(result) == 0:  # our lease ran out and another dispatcher took over
                await session.rollback()
                log.warning("outbox claim lost", extra={"message_id": message.id})
                return
            await session.execute(
                attempts_t.insert().values(
                    message_id=message.id,
                    attempt=attempts,
                    dispatcher=self.name,
                    started_at=started,
                    duration_ms=int((time.perf_counter() - clock) * 1000),
                    status_code=status_code,
                    outcome=outcome,
                    error=values["last_error"],
                )
            )
            await session.commit()
        if deliverer is not None:
            if outcome == "gone":
                await deliverer.on_gone(message)
            if outcome in ("gone", "dead"):
                await deliverer.on_dead(message, values["last_error"] or outcome)

    async def release_claims(self) -> None:
        om = self.tables.outbox_messages
        with contextlib.suppress(Exception):
            async with self.db.sessionmaker() as session:
                await session.execute(
                    update(om)
                    .where(and_(om.c.claimed_by == self.name, om.c.status == "pending"))
                    .values(claimed_by=None, claimed_until=None)
                )
                await session.commit()
