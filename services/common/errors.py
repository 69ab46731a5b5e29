"""RFC 9457 problem details: the one way every error leaves either service.

Raise :class:`Problem` (or a subclass) from services and routers; HTTP errors from Starlette,
request validation errors and unexpected exceptions are all turned into
``application/problem+json`` here. A 422 names each field, what was wrong and what would be right.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.requestid import current_request_id

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:captem:problem:"
log = logging.getLogger("captem.errors")


class Problem(Exception):
    """An error with a status, a stable type slug and a human ``detail`` saying what to fix."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.title = title or HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        self.extensions = extensions


class NotFound(Problem):
    def __init__(self, what: str) -> None:
        super().__init__(
            404, f"{what} was not found, or you are not allowed to see it.", slug="not-found"
        )


class FieldProblem(Problem):
    """A 422 about specific request fields; ``errors`` items carry field, message and fix."""

    def __init__(
        self,
        errors: Sequence[Mapping[str, str]],
        *,
        slug: str = "invalid-request",
        status: int = 422,
    ) -> None:
        detail = "; ".join(
            f"{e['field']}: {e['message']}" + (f" {e['fix']}" if e.get("fix") else "")
            for e in errors
        )
        super().__init__(status, detail, slug=slug, errors=[dict(e) for e in errors])


def field_error(field: str, message: str, fix: str = "") -> dict[str, str]:
    return {"field": field, "message": message, "fix": fix}


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    body.update(extensions)
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


# What a person should do about each pydantic error type; the message says what was wrong.
_TIMESTAMP_FIX = "Send an ISO 8601 timestamp with a UTC offset, e.g. 2026-03-01T09:30:00-05:00."
_FIXES = {
    "missing": "Add this field.",
    "extra_forbidden": "Remove this field; it is not part of this request.",
    "int_parsing": "Send a whole number.",
    "int_type": "Send a whole number.",
    "float_parsing": "Send a number.",
    "float_type": "Send a number.",
    "decimal_parsing": "Send a number.",
    "bool_parsing": "Send true or false.",
    "bool_type": "Send true or false.",
    "string_type": "Send text.",
    "date_from_datetime_parsing": "Send a date as YYYY-MM-DD.",
    "date_from_datetime_inexact": "Send a date as YYYY-MM-DD, without a time of day.",
    "date_parsing": "Send a date as YYYY-MM-DD.",
    "date_type": "Send a date as YYYY-MM-DD.",
    "datetime_parsing": _TIMESTAMP_FIX,
    "datetime_type": _TIMESTAMP_FIX,
    "timezone_aware": "Include the UTC offset, e.g. 2026-03-01T09:30:00-05:00.",
    "json_invalid": "Send a valid JSON document.",
    "model_attributes_type": "Send a JSON object.",
    "dict_type": "Send a JSON object.",
    "list_type": "Send a JSON array.",
    "too_short": "Send more items.",
    "too_long": "Send fewer items.",
    "string_too_long": "Shorten the text.",
    "string_too_short": "The text is too short.",
    "string_pattern_mismatch": "Use the documented format.",
}


def _field_name(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc]
    return ".".join(parts) if parts else "body"


def validation_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    out = []
    for err in errors:
        kind = str(err.get("type", ""))
        fix = _FIXES.get(kind, "")
        ctx = err.get("ctx") or {}
        if kind in ("literal_error", "enum") and "expected" in ctx:
            fix = f"Use one of: {ctx['expected']}."
        message = str(err.get("msg", "is not valid"))
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        out.append(field_error(_field_name(err.get("loc", ())), message, fix))
    return out


# FastAPI's detail when a request body cannot be decoded at all (e.g. bytes that are not UTF-8).
_UNREADABLE_BODY = "There was an error parsing the body"


DATABASE_UNAVAILABLE = (
    "The database is briefly unavailable. Nothing from this request was saved; please try "
    "again in a few seconds (repeating it with the same Idempotency-Key is safe)."
)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # A lost connection, a restarting server or (SQLite) a lock held past the busy timeout:
        # the transaction did not commit, and a retry will most likely succeed.
        log.warning(
            "database unavailable", extra={"path": request.url.path, "error": type(exc).__name__}
        )
        return problem_response(
            503,
            DATABASE_UNAVAILABLE,
            slug="database-unavailable",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.detail,
            slug=exc.slug,
            title=exc.title,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc.errors())
        detail = "; ".join(
            f"{e['field']}: {e['message']}" + (f" {e['fix']}" if e["fix"] else "") for e in errors
        )
        return problem_response(
            422,
            detail,
            slug="validation-error",
            title="Your request has invalid fields",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNREADABLE_BODY:
            # FastAPI answers 422 json_invalid for malformed JSON but 400 for a body that is not
            # even text (not UTF-8); both mean "send valid JSON", so both are the documented 422.
            errors = [field_error("body", "is not valid JSON text.", _FIXES["json_invalid"])]
            return problem_response(
                422,
                f"body: is not valid JSON text. {_FIXES['json_invalid']}",
                slug="validation-error",
                title="Your request has invalid fields",
                instance=request.url.path,
                errors=errors,
            )
        detail = (
            exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
        )
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no resource at {request.url.path}."
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
        return problem_response(
            exc.status_code,
            detail,
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )


_UNEXPECTED_DETAIL = (
    "Something went wrong on our side. Nothing you sent was partly saved; please "
    "try again. If it keeps happening, quote the request_id to support."
)


class UnexpectedErrorMiddleware:
    """Any exception no handler claimed becomes a 500 problem without internals.

    It sits inside the request-ID middleware (Starlette's own last-resort handler sits outside
    all middleware, where the request ID is already gone).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            if started:
                raise
            response = problem_response(500, _UNEXPECTED_DETAIL, instance=scope.get("path"))
            await response(scope, receive, send)


class ProblemDocument(BaseModel):
    """RFC 9457 problem details, as every error response of both services is shaped."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, str]] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problem statuses a route can answer with."""
    return {
        status: {
            "model": ProblemDocument,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}},
        }
        for status in statuses
    }
