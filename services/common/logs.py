"""Structured JSON logs without patient data.

Log records carry the request ID, method, route path, status and duration: never request or
response bodies, query strings, answers, lab values or tokens.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.requestid import current_request_id

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_third_party_loggers()


def quiet_third_party_loggers() -> None:
    logging.getLogger("uvicorn.access").disabled = True  # replaced by AccessLogMiddleware
    # httpx logs full URLs (query strings included) at INFO for every outbound request.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # At DEBUG these log every statement with its parameters (answers, lab values, webhook
    # secrets) or every request's headers: never wanted, whatever CAPTEM_LOG_LEVEL says.
    for name in ("aiosqlite", "asyncpg", "sqlalchemy", "httpcore", "hpack"):
        logging.getLogger(name).setLevel(logging.WARNING)


class AccessLogMiddleware:
    """One line per request: method, path (no query string), status, duration."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.log = logging.getLogger(f"captem.{service}.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
