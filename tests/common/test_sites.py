from __future__ import annotations

import pytest

from tests.support.factories import new_site_id


@pytest.mark.parametrize("service", ["pro_api", "safety_api"])
async def test_put_site_creates_then_updates_idempotently(client_for, tokens, service) -> None:
    client = await client_for(service)
    site_id = new_site_id()
    admin = tokens.headers("trial_admin", aud=service)
    body = {"name": "Penn", "timezone": "America/New_York"}
    created = await client.put(f"/v1/sites/{site_id}", json=body, headers=admin)
    assert created.status_code == 201
    assert created.json()["timezone"] == "America/New_York"
    again = await client.put(f"/v1/sites/{site_id}", json=body, headers=admin)
    assert again.status_code == 200
    assert again.json()["updated_at"] == created.json()["updated_at"]
    renamed = await client.put(
        f"/v1/sites/{site_id}", json={**body, "name": "Penn Medicine"}, headers=admin
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Penn Medicine"


async def test_put_site_refuses_an_unknown_time_zone_naming_the_field(safety, tokens) -> None:
    response = await safety.put(
        f"/v1/sites/{new_site_id()}",
        json={"name": "x", "timezone": "Mars/Olympus"},
        headers=tokens.headers("trial_admin"),
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "body.timezone"
    assert "America/New_York" in problem["detail"]


async def test_put_site_refuses_a_malformed_site_id(safety, tokens) -> None:
    response = await safety.put(
        "/v1/sites/has space",
        json={"name": "x", "timezone": "UTC"},
        headers=tokens.headers("trial_admin"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "path.site_id"


@pytest.mark.parametrize("role", ["site_staff", "site_admin", "ehr_client", "service", "monitor"])
async def test_only_trial_admin_registers_sites(safety, tokens, role) -> None:
    site_id = new_site_id()
    response = await safety.put(
        f"/v1/sites/{site_id}",
        json={"name": "x", "timezone": "UTC"},
        headers=tokens.headers(role, site=site_id),
    )
    assert response.status_code == 403


async def test_site_changes_are_audited(safety, tokens) -> None:
    from sqlalchemy import select

    site_id = new_site_id()
    admin = tokens.headers("trial_admin")
    await safety.put(f"/v1/sites/{site_id}", json={"name": "A", "timezone": "UTC"}, headers=admin)
    await safety.put(f"/v1/sites/{site_id}", json={"name": "B", "timezone": "UTC"}, headers=admin)
    app = safety.app
    audit = app.state.tables.audit_events
    async with app.state.db.sessionmaker() as session:
        rows = (
            (
                await session.execute(
                    select(audit).where(audit.c.entity_id == site_id).order_by(audit.c.id)
                )
            )
            .mappings()
            .all()
        )
    assert [r["action"] for r in rows] == ["site.create", "site.update"]
    assert rows[1]["before"]["name"] == "A" and rows[1]["after"]["name"] == "B"
    assert rows[1]["actor"].endswith("test-trial_admin")
