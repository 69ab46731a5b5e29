"""Outbox: a message exists iff its transaction committed; each one arrives despite receiver
failures; every attempt is recorded; two dispatchers on one database never deliver one twice."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from services.common.app import listen_dsn
from services.common.db import Database
from services.common.outbox import (
    Deliverer,
    Dispatcher,
    HttpJsonDeliverer,
    OutboxMessage,
    enqueue,
    next_delay,
)
from services.safety_api.models import tables
from tests.support.receiver import running_receiver

FAST = (0.0, 0.05, 0.05, 0.05)


class RecordingDeliverer(HttpJsonDeliverer):
    def __init__(self) -> None:
        self.gone: list[str] = []
        self.dead: list[tuple[str, str]] = []

    async def on_gone(self, message: OutboxMessage) -> None:
        self.gone.append(message.id)

    async def on_dead(self, message: OutboxMessage, reason: str) -> None:
        self.dead.append((message.id, reason))


@pytest.fixture
async def db(database_urls):
    database = Database.connect(database_urls["safety_api"])
    yield database
    await database.dispose()


def dispatcher(db: Database, deliverer: Deliverer, **options: Any) -> Dispatcher:
    values: dict[str, Any] = {
        "schedule": FAST,
        "jitter": 0.0,
        "poll_interval_s": 0.02,
        "batch_size": 10,
    }
    values.update(options)
    return Dispatcher(db, tables, {"test.http": deliverer}, **values)


async def put(db: Database, url: str, n: int = 1, **extra: Any) -> list[str]:
    ids = []
    async with db.sessionmaker() as session:
        for i in range(n):
            message_id = await enqueue(
                session, tables, "test.http", {"url": url, "body": {"n": i}}, **extra
            )
            assert message_id is not None
            ids.append(message_id)
        await session.commit()
    return ids


async def drain(d: Dispatcher, ids: list[str], db: Database, timeout_s: float = 20.0) -> None:
    om = tables.outbox_messages

    async def until_done() -> None:
        while True:
            await d.run_once()
            async with db.sessionmaker() as session:
                pending = (
                    await session.execute(
                        select(func.count()).where(om.c.id.in_(ids), om.c.status == "pending")
                    )
                ).scalar_one()
            if pending == 0:
                return
            await asyncio.sleep(0.02)

    await asyncio.wait_for(until_done(), timeout_s)


async def attempts(db: Database, message_id: str) -> list[str]:
    t = tables.outbox_attempts
    async with db.sessionmaker() as session:
        return list(
            (
                await session.execute(
                    select(t.c.outcome).where(t.c.message_id == message_id).order_by(t.c.attempt)
                )
            ).scalars()
        )


async def status(db: Database, message_id: str) -> str:
    om = tables.outbox_messages
    async with db.sessionmaker() as session:
        return (
            await session.execute(select(om.c.status).where(om.c.id == message_id))
        ).scalar_one()


async def test_each_message_arrives_after_the_receiver_fails_the_first_attempts(db) -> None:
    async with running_receiver(fail_first=2) as receiver:
        ids = await put(db, receiver.url, 5)
        d = dispatcher(db, RecordingDeliverer())
        await drain(d, ids, db)
        await d.stop()
    for message_id in ids:
        assert receiver.accepted[message_id] == 1
        assert receiver.seen[message_id] == 3
        assert await attempts(db, message_id) == ["retry", "retry", "delivered"]
        assert await status(db, message_id) == "delivered"


async def test_a_message_is_dead_once_the_schedule_is_exhausted(db) -> None:
    deliverer = RecordingDeliverer()
    async with running_receiver(always_status=503) as receiver:
        [message_id] = await put(db, receiver.url)
        d = dispatcher(db, deliverer)
        await drain(d, [message_id], db)
        await d.stop()
    assert await attempts(db, message_id) == ["retry", "retry", "retry", "dead"]
    assert await status(db, message_id) == "dead"
    assert deliverer.dead and "gave up after 4 attempts" in deliverer.dead[0][1]


async def test_410_gone_stops_retrying_and_tells_the_deliverer(db) -> None:
    deliverer = RecordingDeliverer()
    async with running_receiver(always_status=410) as receiver:
        [message_id] = await put(db, receiver.url)
        d = dispatcher(db, deliverer)
        await drain(d, [message_id], db)
        await d.stop()
    assert await attempts(db, message_id) == ["gone"]
    assert deliverer.gone == [message_id]


async def test_an_unreachable_receiver_is_retried(db) -> None:
    [message_id] = await put(db, "http://127.0.0.1:9/unreachable")
    d = dispatcher(db, RecordingDeliverer())
    await drain(d, [message_id], db)
    await d.stop()
    assert await attempts(db, message_id) == ["retry", "retry", "retry", "dead"]


async def test_a_message_from_a_rolled_back_transaction_never_exists(db) -> None:
    om = tables.outbox_messages
    async with db.sessionmaker() as session:
        message_id = await enqueue(session, tables, "test.http", {"url": "x", "body": {}})
        await session.rollback()
    async with db.sessionmaker() as session:
        found = (await session.execute(select(om.c.id).where(om.c.id == message_id))).first()
    assert found is None


async def test_a_dedupe_key_is_enqueued_once(db) -> None:
    key = f"diary-day:{uuid.uuid4().hex}:v1"
    async with db.sessionmaker() as session:
        first = await enqueue(
            session, tables, "test.http", {"url": "x", "body": {}}, dedupe_key=key
        )
        second = await enqueue(
            session, tables, "test.http", {"url": "x", "body": {}}, dedupe_key=key
        )
        await session.commit()
    assert first is not None and second is None


async def test_two_dispatchers_never_deliver_the_same_message_twice(db) -> None:
    async with running_receiver() as receiver:
        ids = await put(db, receiver.url, 120)
        first, second = dispatcher(db, HttpJsonDeliverer()), dispatcher(db, HttpJsonDeliverer())
        await asyncio.gather(drain(first, ids, db), drain(second, ids, db))
        await first.stop()
        await second.stop()
    assert all(receiver.seen[i] == 1 for i in ids), "a message was sent twice"
    t = tables.outbox_attempts
    async with db.sessionmaker() as session:
        rows = (
            await session.execute(
                select(t.c.message_id, t.c.dispatcher).where(t.c.message_id.in_(ids))
            )
        ).all()
    assert len(rows) == 120
    assert {r.dispatcher for r in rows} == {first.name, second.name}, "both should have worked"


async def test_stopping_releases_claims_so_another_replica_can_deliver(db) -> None:
    om = tables.outbox_messages
    ids = await put(db, "http://127.0.0.1:9/x", 3)
    d = dispatcher(db, HttpJsonDeliverer(), lease_s=3600)
    claimed: set[str] = set()
    for _ in range(50):  # the shared test database may hold other tests' pending messages
        claimed |= {m.id for m in await d._claim()}
        if set(ids) <= claimed:
            break
    assert set(ids) <= claimed
    await d.stop()
    async with db.sessionmaker() as session:
        held = (
            await session.execute(
                select(func.count()).where(om.c.id.in_(ids), om.c.claimed_by.is_not(None))
            )
        ).scalar_one()
    assert held == 0


async def test_running_dispatcher_is_woken_by_listen_notify_or_commit(db, backend) -> None:
    async with running_receiver() as receiver:
        d = dispatcher(db, HttpJsonDeliverer(), poll_interval_s=30.0, listen_dsn=listen_dsn(db.url))
        await d.start()
        await asyncio.sleep(0.1)
        ids = await put(db, receiver.url, 2)
        if backend == "sqlite":
            d.wake()  # in-process wake after commit; PostgreSQL gets NOTIFY
        await receiver.wait_for(2, timeout_s=10)
        await d.stop()
    assert all(receiver.accepted[i] == 1 for i in ids)


def test_next_delay_follows_the_schedule_with_bounded_jitter() -> None:
    import random

    schedule = (0.0, 5.0, 300.0)
    rng = random.Random(1)
    assert next_delay(schedule, 1, 0.0) == 5.0
    assert 270.0 <= next_delay(schedule, 2, 0.1, rng) <= 330.0
    assert next_delay(schedule, 3, 0.1) is None


async def test_a_wake_up_during_a_delivery_is_not_lost(db) -> None:
    """A message committed while the dispatcher is busy delivering is sent at once, not after
    a whole poll interval."""
    async with running_receiver(delay_s=1.0) as slow, running_receiver() as fast:
        d = dispatcher(db, HttpJsonDeliverer(), poll_interval_s=30.0)
        await d.start()
        await put(db, slow.url)
        d.wake()
        while not slow.seen:  # the first delivery is in flight (the receiver holds it)
            await asyncio.sleep(0.01)
        late = await put(db, fast.url)
        d.wake()
        await fast.wait_for(1, timeout_s=5)
        await d.stop()
    assert fast.accepted[late[0]] == 1


async def test_a_hung_receiver_does_not_hold_up_another_sites_messages(db) -> None:
    """One endpoint that never answers (until the HTTP timeout) occupies one delivery slot; a
    message for a healthy endpoint committed meanwhile arrives in well under a second."""
    async with running_receiver(delay_s=30.0) as hung, running_receiver() as healthy:
        d = dispatcher(db, HttpJsonDeliverer(), poll_interval_s=30.0, http_timeout_s=8.0)
        await d.start()
        stuck = await put(db, hung.url, 3)
        d.wake()
        while len(hung.seen) < 3:
            await asyncio.sleep(0.01)
        ids = await put(db, healthy.url, 2)
        d.wake()
        # Arrives before the hung deliveries could even time out (8 s):
        await healthy.wait_for(2, timeout_s=5)
        assert await status(db, stuck[0]) == "pending"
        await d.stop(grace_s=0.5)
    assert all(healthy.accepted[i] == 1 for i in ids)
