"""FHIR R4 on the wire, the one way both services answer ``/fhir`` routes.

Successful answers are ``application/fhir+json``; every error — authentication, role, scope,
Idempotency-Key conflicts, validation, the handler's own refusals, unexpected failures — leaves
as an ``OperationOutcome`` (with the request ID as its ``id``, quotable to support), through
:class:`FhirRoute` set as the router's ``route_class``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.errors import Problem, validation_errors
from services.common.idempotency import IdempotentReplay
from services.common.requestid import current_request_id

log = logging.getLogger("captem.fhir")

FHIR_JSON = "application/fhir+json"
# FHIR IssueType for an HTTP status (http://hl7.org/fhir/valueset-issue-type.html).
ISSUE_BY_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "processing",
}


def issue_type(status: int) -> str:
    return ISSUE_BY_STATUS.get(status, "exception" if status >= 500 else "processing")


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome issue; ``code`` is a FHIR IssueType (invalid, required, value, ...)."""

    code: str
    diagnostics: str
    expression: tuple[str, ...] = ()
    severity: str = "error"

    def as_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


class FhirError(Exception):
    """A refusal to be answered with an OperationOutcome of the given HTTP status."""

    def __init__(
        self, status: int, issues: Sequence[Issue], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__("; ".join(i.diagnostics for i in issues))
        self.status = status
        self.issues = list(issues)
        self.headers = dict(headers or {})


def operation_outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    outcome: dict[str, Any] = {
        "resourceType": "OperationOutcome",
        "issue": [i.as_fhir() for i in issues],
    }
    request_id = current_request_id()
    if request_id:
        outcome["id"] = request_id  # quotable to support, as problem documents carry it
    return outcome


class FhirJSONResponse(JSONResponse):
    media_type = FHIR_JSON


def fhir_response(
    body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> Response:
    return FhirJSONResponse(dict(body), status_code=status, headers=dict(headers or {}))


def _field_issues(code: str, errors: Sequence[Mapping[str, str]]) -> list[Issue]:
    return [
        Issue(code, f"{e['message']} {e.get('fix', '')}".strip(), (e["field"],)) for e in errors
    ]


def problem_issues(problem: Problem) -> list[Issue]:
    """A problem document's content as OperationOutcome issues (one per named field)."""
    errors = problem.extensions.get("errors")
    if errors:
        return _field_issues("invalid", errors)
    return [Issue(issue_type(problem.status), problem.detail)]


class FhirRoute(APIRoute):
    """Turns every error of a FHIR route into an OperationOutcome, wherever it was raised.
    The request's transaction has already rolled back by the time the exception arrives."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except IdempotentReplay:
                raise  # the stored response, replayed by the app's handler as it was sent
            except FhirError as exc:
                return fhir_response(operation_outcome(exc.issues), exc.status, exc.headers)
            except Problem as exc:
                return fhir_response(
                    operation_outcome(problem_issues(exc)), exc.status, exc.headers
                )
            except RequestValidationError as exc:
                issues = _field_issues("invalid", validation_errors(exc.errors()))
                return fhir_response(operation_outcome(issues), 422)
            except StarletteHTTPException as exc:
                issue = Issue(issue_type(exc.status_code), str(exc.detail))
                return fhir_response(operation_outcome([issue]), exc.status_code, exc.headers)
            except Exception:
                log.exception("unhandled error", extra={"path": request.url.path})
                issue = Issue(
                    "exception",
                    "Something went wrong on our side; nothing was stored. Please retry; if it "
                    "keeps happening, quote this OperationOutcome's id to support.",
                )
                return fhir_response(operation_outcome([issue]), 500)

        return fhir_handler
