"""Every error is an RFC 9457 problem document saying what to fix, with no internals."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

PROBLEM = "application/problem+json"


class Payload(BaseModel):
    count: int
    when: str


def add_test_routes(app: FastAPI) -> None:
    router = APIRouter()

    @router.post("/test/echo")
    async def echo(body: Payload) -> Payload:
        return body

    @router.get("/test/database-gone")
    async def database_gone() -> None:
        from sqlalchemy.exc import OperationalError

        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    @router.get("/test/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail: table patients column dob")

    app.include_router(router)


async def test_validation_errors_name_each_field_and_the_fix(client_for) -> None:
    client = await client_for("pro_api", customise=add_test_routes)
    response = await client.post("/test/echo", json={"count": "many"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:captem:problem:validation-error"
    fields = {e["field"]: e for e in problem["errors"]}
    assert fields["body.count"]["fix"] == "Send a whole number."
    assert fields["body.when"]["fix"] == "Add this field."
    assert "body.count" in problem["detail"] and "body.when" in problem["detail"]


async def test_malformed_json_is_a_problem(client_for) -> None:
    client = await client_for("pro_api", customise=add_test_routes)
    response = await client.post(
        "/test/echo", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_unexpected_errors_are_500_without_internals(client_for) -> None:
    client = await client_for("pro_api", customise=add_test_routes)
    response = await client.get("/test/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "secret" not in response.text and "patients" not in response.text
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_unknown_path_is_a_404_problem(safety) -> None:
    response = await safety.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "/v1/nothing-here" in response.json()["detail"]


async def test_wrong_method_is_a_405_problem(safety) -> None:
    response = await safety.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


async def test_an_oversized_body_is_413(client_for, settings) -> None:
    client = await client_for("pro_api", customise=add_test_routes)
    response = await client.post(
        "/test/echo",
        content=b"x" * (settings.max_request_bytes + 1),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_an_oversized_chunked_body_is_413(client_for, settings) -> None:
    client = await client_for("pro_api", customise=add_test_routes)

    async def chunks():
        for _ in range(settings.max_request_bytes // 65536 + 2):
            yield b"x" * 65536

    response = await client.post(
        "/test/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_a_lost_database_is_a_503_with_retry_after(client_for) -> None:
    client = await client_for("pro_api", customise=add_test_routes)
    response = await client.get("/test/database-gone")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "5"
    assert "Nothing from this request was saved" in response.json()["detail"]
    assert "refused" not in response.text
