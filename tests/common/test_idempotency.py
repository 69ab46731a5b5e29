"""Idempotency-Key: replay on repeat, 422 on a different body, 409 while in flight; the data and
the stored response commit together; a failed request frees the key."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from fastapi import APIRouter, FastAPI
from sqlalchemy import func, select

from services.common import audit
from services.common.auth import CurrentPrincipal
from services.common.errors import Problem
from services.common.idempotency import IdempotencyDep, key_digest, prune_expired
from services.common.session import SessionDep

gate: dict[str, asyncio.Event] = {}
STAFF = "captem|site_staff|test-site_staff"  # the principal key of tokens.headers("site_staff")


def add_test_routes(app: FastAPI) -> None:
    router = APIRouter()

    @router.post("/test/notes", status_code=201)
    async def create_note(
        body: dict, session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep
    ):
        if body.get("wait_for") in gate:
            await gate[body["wait_for"]].wait()
        if body.get("fail"):
            await audit.record(
                session,
                app.state.tables,
                actor=principal,
                action="note.fail",
                entity_type="note",
                entity_id=body["ref"],
            )
            raise Problem(400, "refused on purpose")
        digest = await audit.record(
            session,
            app.state.tables,
            actor=principal,
            action="note.create",
            entity_type="note",
            entity_id=body["ref"],
            after=body,
        )
        return await idem.respond(
            session,
            201,
            {"ref": body["ref"], "hash": digest},
            headers={"Location": f"/test/notes/{body['ref']}"},
        )

    app.include_router(router)


async def _count(client, ref: str, action: str = "note.create") -> int:
    table = client.app.state.tables.audit_events
    async with client.app.state.db.sessionmaker() as session:
        return (
            await session.execute(
                select(func.count()).where(table.c.entity_id == ref, table.c.action == action)
            )
        ).scalar_one()


async def test_same_key_and_body_replays_the_stored_response(client_for, tokens) -> None:
    client = await client_for("safety_api", customise=add_test_routes)
    ref, key = uuid.uuid4().hex, uuid.uuid4().hex
    headers = {**tokens.headers("site_staff", site="101"), "Idempotency-Key": key}
    first = await client.post("/test/notes", json={"ref": ref}, headers=headers)
    second = await client.post("/test/notes", json={"ref": ref}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["location"] == f"/test/notes/{ref}"
    assert await _count(client, ref) == 1


async def test_same_key_with_a_different_body_is_422(client_for, tokens) -> None:
    client = await client_for("safety_api", customise=add_test_routes)
    headers = {**tokens.headers("site_staff", site="101"), "Idempotency-Key": uuid.uuid4().hex}
    await client.post("/test/notes", json={"ref": "a" + uuid.uuid4().hex}, headers=headers)
    other = await client.post("/test/notes", json={"ref": "b"}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert "different request" in other.json()["detail"]


async def test_a_retry_while_the_first_is_in_flight_is_409(client_for, tokens) -> None:
    client = await client_for("safety_api", customise=add_test_routes)
    ref, hold = uuid.uuid4().hex, uuid.uuid4().hex
    gate[hold] = asyncio.Event()
    headers = {**tokens.headers("site_staff", site="101"), "Idempotency-Key": uuid.uuid4().hex}
    body = {"ref": ref, "wait_for": hold}
    first = asyncio.create_task(client.post("/test/notes", json=body, headers=headers))
    try:
        # Retry only once the first request holds the key (else the retry would be "first").
        table = client.app.state.tables.idempotency_keys
        for _ in range(1000):
            await asyncio.sleep(0.01)
            async with client.app.state.db.sessionmaker() as session:
                held = (
                    await session.execute(
                        select(table.c.state).where(
                            table.c.key == key_digest(STAFF, headers["Idempotency-Key"])
                        )
                    )
                ).scalar()
            if held == "in_flight":
                break
        retry = await client.post("/test/notes", json=body, headers=headers)
        assert retry.status_code == 409
        assert retry.headers["retry-after"] == "1"
    finally:
        gate[hold].set()
    assert (await first).status_code == 201
    replay = await client.post("/test/notes", json=body, headers=headers)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert await _count(client, ref) == 1


async def test_a_failed_request_frees_its_key_and_stores_nothing(client_for, tokens) -> None:
    client = await client_for("safety_api", customise=add_test_routes)
    ref = uuid.uuid4().hex
    headers = {**tokens.headers("site_staff", site="101"), "Idempotency-Key": uuid.uuid4().hex}
    failed = await client.post("/test/notes", json={"ref": ref, "fail": True}, headers=headers)
    assert failed.status_code == 400
    assert await _count(client, ref, "note.fail") == 0  # rolled back with the request
    again = await client.post("/test/notes", json={"ref": ref, "fail": True}, headers=headers)
    assert again.status_code == 400  # re-executed, not a 409 or a replay


async def test_keys_are_per_principal(client_for, tokens) -> None:
    client = await client_for("safety_api", customise=add_test_routes)
    key = uuid.uuid4().hex
    ref = uuid.uuid4().hex
    one = await client.post(
        "/test/notes",
        json={"ref": ref},
        headers={**tokens.headers("site_staff", site="101", sub="alice"), "Idempotency-Key": key},
    )
    two = await client.post(
        "/test/notes",
        json={"ref": ref},
        headers={**tokens.headers("site_staff", site="101", sub="bob"), "Idempotency-Key": key},
    )
    assert one.status_code == two.status_code == 201
    assert "idempotent-replayed" not in two.headers
    assert await _count(client, ref) == 2


async def test_without_a_key_each_request_executes(client_for, tokens) -> None:
    client = await client_for("safety_api", customise=add_test_routes)
    ref = uuid.uuid4().hex
    headers = tokens.headers("site_staff", site="101")
    for _ in range(2):
        assert (
            await client.post("/test/notes", json={"ref": ref}, headers=headers)
        ).status_code == 201
    assert await _count(client, ref) == 2


async def test_an_oversized_key_is_400(client_for, tokens) -> None:
    client = await client_for("safety_api", customise=add_test_routes)
    headers = {**tokens.headers("site_staff", site="101"), "Idempotency-Key": "k" * 300}
    response = await client.post("/test/notes", json={"ref": "x"}, headers=headers)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]


async def test_an_abandoned_in_flight_key_is_taken_over_after_its_lease(
    client_for, tokens, settings
) -> None:
    from services.common.db import utcnow

    client = await client_for("safety_api", customise=add_test_routes)
    table = client.app.state.tables.idempotency_keys
    principal_key = "captem|site_staff|test-site_staff"
    key, ref = uuid.uuid4().hex, uuid.uuid4().hex
    import json

    from services.common.idempotency import _fingerprint

    body = json.dumps({"ref": ref}).encode()
    async with client.app.state.db.sessionmaker() as session:
        await session.execute(
            table.insert().values(
                principal=principal_key,
                key=key_digest(principal_key, key),
                fingerprint=_fingerprint("POST", "/test/notes", body),
                state="in_flight",
                locked_until=utcnow(),
                created_at=utcnow(),
            )
        )
        await session.commit()
    response = await client.post(
        "/test/notes",
        content=body,
        headers={
            **tokens.headers("site_staff", site="101"),
            "Idempotency-Key": key,
            "content-type": "application/json",
        },
    )
    assert response.status_code == 201
    assert await _count(client, ref) == 1


async def _stored_rows(client) -> list[dict]:
    table = client.app.state.tables.idempotency_keys
    async with client.app.state.db.sessionmaker() as session:
        return [dict(r) for r in (await session.execute(select(table))).mappings()]


async def test_the_stored_response_is_sealed_and_only_the_clients_key_opens_it(
    client_for, tokens
) -> None:
    """The database keeps neither the key nor the response in the clear: what a request created
    (here its ref) cannot be read from the row, yet the client's retry replays it exactly."""
    client = await client_for("safety_api", customise=add_test_routes)
    key, ref = str(uuid.uuid4()), f"secret-{uuid.uuid4().hex}"
    headers = {**tokens.headers("site_staff", site="101"), "Idempotency-Key": key}
    first = await client.post("/test/notes", json={"ref": ref}, headers=headers)
    assert first.status_code == 201 and ref in first.text
    [row] = [r for r in await _stored_rows(client) if r["key"] == key_digest(STAFF, key)]
    assert key not in str(row) and ref not in row["response_body"]
    assert row["response_body"].startswith("aesgcm1:")
    replay = await client.post("/test/notes", json={"ref": ref}, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content


async def test_a_tampered_stored_response_is_refused_not_replayed(client_for, tokens) -> None:
    client = await client_for("safety_api", customise=add_test_routes)
    key, ref = str(uuid.uuid4()), uuid.uuid4().hex
    headers = {**tokens.headers("site_staff", site="101"), "Idempotency-Key": key}
    assert (await client.post("/test/notes", json={"ref": ref}, headers=headers)).status_code == 201
    table = client.app.state.tables.idempotency_keys
    async with client.app.state.db.sessionmaker() as session:
        stored = (
            await session.execute(
                select(table.c.response_body).where(table.c.key == key_digest(STAFF, key))
            )
        ).scalar_one()
        forged = stored[:-6] + ("AAAA==" if not stored.endswith("AAAA==") else "BBBB==")
        await session.execute(
            table.update().where(table.c.key == key_digest(STAFF, key)).values(response_body=forged)
        )
        await session.commit()
    again = await client.post("/test/notes", json={"ref": ref}, headers=headers)
    assert again.status_code == 409
    assert again.json()["type"].endswith("idempotency-response-unreadable")
    assert await _count(client, ref) == 1


async def _store_key_as_if_made(client, key: str, hours_ago: float) -> None:
    from services.common.db import utcnow

    table = client.app.state.tables.idempotency_keys
    async with client.app.state.db.sessionmaker() as session:
        await session.execute(
            table.update()
            .where(table.c.key == key_digest(STAFF, key))
            .values(created_at=utcnow() - dt.timedelta(hours=hours_ago))
        )
        await session.commit()


async def test_a_key_past_its_retention_is_a_new_request_and_is_pruned(
    client_for, tokens, database_urls, tmp_path
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(database_urls, tmp_path, idempotency_retention_h=1)
    client = await client_for("safety_api", customise=add_test_routes, app_settings=settings)
    key, ref = str(uuid.uuid4()), uuid.uuid4().hex
    headers = {**tokens.headers("site_staff", site="101"), "Idempotency-Key": key}
    assert (await client.post("/test/notes", json={"ref": ref}, headers=headers)).status_code == 201
    await _store_key_as_if_made(client, key, hours_ago=2)
    again = await client.post("/test/notes", json={"ref": ref}, headers=headers)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert await _count(client, ref) == 2
    old_key = str(uuid.uuid4())
    old = {**headers, "Idempotency-Key": old_key}
    assert (await client.post("/test/notes", json={"ref": "x"}, headers=old)).status_code == 201
    await _store_key_as_if_made(client, old_key, hours_ago=2)
    pruned = await prune_expired(client.app.state.db, client.app.state.tables, retention_h=1)
    assert pruned >= 1
    kept = {r["key"] for r in await _stored_rows(client)}
    assert key_digest(STAFF, old_key) not in kept and key_digest(STAFF, key) in kept
