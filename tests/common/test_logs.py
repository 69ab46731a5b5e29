"""Logs carry request IDs and routes, never bodies, tokens or query strings."""

from __future__ import annotations

import io
import json
import logging

from services.common.logs import JsonFormatter, quiet_third_party_loggers


async def test_request_logs_hold_no_tokens_bodies_or_query_strings(safety, tokens) -> None:
    quiet_third_party_loggers()  # as `captem serve` configures logging
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        token = tokens("trial_admin")
        await safety.put(
            "/v1/sites/logtest1?secret_query=QQQ",
            json={"name": "MARKER-NAME-7731", "timezone": "UTC"},
            headers={"Authorization": f"Bearer {token}"},
        )
        await safety.put(
            "/v1/sites/logtest2",
            json={"name": "MARKER-BAD-7731", "timezone": "X"},
            headers={"Authorization": f"Bearer {token}"},
        )
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    output = stream.getvalue()
    assert "MARKER" not in output
    assert token not in output and token.split(".")[1] not in output
    assert "QQQ" not in output
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"].endswith(".access")]
    assert access and all("request_id" in line and "status" in line for line in access)
