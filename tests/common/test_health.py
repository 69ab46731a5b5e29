from __future__ import annotations

import pytest

from tests.conftest import make_settings


@pytest.mark.parametrize("service", ["pro_api", "safety_api"])
async def test_healthz_answers_ok(client_for, service: str) -> None:
    client = await client_for(service)
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("service", ["pro_api", "safety_api"])
async def test_readyz_is_ok_while_the_database_answers(client_for, service: str) -> None:
    client = await client_for(service)
    response = await client.get("/readyz")
    assert response.status_code == 200


async def test_readyz_is_503_problem_when_the_database_is_unreachable(client_for, tmp_path) -> None:
    unreachable = {
        "pro_api": "postgresql+asyncpg://nobody@127.0.0.1:9/none",
        "safety_api": f"sqlite+aiosqlite:///{tmp_path}/missing/dir/db.sqlite3",
    }
    for service in ("pro_api", "safety_api"):
        client = await client_for(service, app_settings=make_settings(unreachable, tmp_path))
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 503


async def test_every_response_carries_a_request_id(safety) -> None:
    response = await safety.get("/healthz", headers={"X-Request-ID": "abc12345-trace"})
    assert response.headers["x-request-id"] == "abc12345-trace"
    generated = await safety.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32
