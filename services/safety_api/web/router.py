"""``/staff/``: the site's alert dashboard, subject pages, eDISH plot and toxicity table.

Server-rendered (Jinja2, no page script), so the pages work with JavaScript off and the CSP
stays ``script-src 'self'`` without exceptions. Each page calls the same service functions as
the JSON API with the signed-in staff member as principal, so scope is enforced exactly where
the API enforces it: another site's alert or subject is "not found" here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from services.common.auth import Unauthorized
from services.common.errors import Problem, validation_errors
from services.common.session import SessionDep
from services.safety_api.adverse_events import service as adverse_events
from services.safety_api.alerts import service as alerts
from services.safety_api.labs import service as labs
from services.safety_api.reports import service as reports
from services.safety_api.subjects.repository import get_subject, list_subjects, site_timezone
from services.safety_api.web import session as staff_session
from services.safety_api.web.edish_plot import edish_plot
from services.safety_api.web.session import NotSignedIn, StaffSession

HERE = Path(__file__).parent
NO_STORE = {"Cache-Control": "no-store"}
RESOLVED_SHOWN = 20
# The dashboard lists unresolved alerts most urgent first, up to this many (then says so).
UNRESOLVED_SHOWN = 1000


class StaffPageRoute(APIRoute):
    """Errors on a page become pages: not signed in → the sign-in page; a problem → an error
    page with its status and the problem's own human detail."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except NotSignedIn as exc:
                target = "/staff/sign-in" + ("?expired=1" if exc.reason else "")
                return RedirectResponse(target, status_code=303, headers=NO_STORE)
            except RequestValidationError as exc:
                problem = Problem(422, _invalid(exc), slug="invalid-request")
                return render(
                    request, "error.html", {"problem": problem}, status_code=422, session=None
                )
            except Problem as exc:
                return render(
                    request, "error.html", {"problem": exc}, status_code=exc.status, session=None
                )

        return page_handler


def _invalid(exc: RequestValidationError) -> str:
    errors = validation_errors(exc.errors())
    return "This address or form is not valid: " + "; ".join(
        f"{e['field']} {e['message']}" for e in errors
    )


router = APIRouter(prefix="/staff", include_in_schema=False, route_class=StaffPageRoute)
templates = Jinja2Templates(directory=HERE / "templates")
Staff = Annotated[StaffSession, Depends(staff_session.current_session)]


# ------------------------------------------------------------------------------ formatting


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def local_time(value: Any, timezone: str) -> str:
    if value is None:
        return "—"
    moment = _as_datetime(value).astimezone(ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def age(value: Any, now: dt.datetime | None = None) -> str:
    seconds = int(((now or dt.datetime.now(dt.UTC)) - _as_datetime(value)).total_seconds())
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days >= 2:
        return f"{days} days"
    if hours >= 1:
        return f"{hours} h {minutes % 60} min"
    return f"{max(minutes, 0)} min"


def number(value: Any) -> str:
    if value is None:
        return "—"
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


templates.env.filters["age"] = age
templates.env.filters["number"] = number
DELIVERY_WORDS = {
    "not_configured": "No alert receiver set up for the site",
    "pending": "Waiting to be sent",
    "retrying": "Sending failed; retrying",
    "delivered": "Delivered to the site's receiver",
    "failed": "NOT delivered: retries gave up",
}
templates.env.globals["delivery_words"] = DELIVERY_WORDS
RULE_NAMES = {
    "hepatic_grade": "Liver test grade 3 or worse",
    "hys_law": "Potential Hy's law",
    "reild_watch": "REILD watch (after radioembolization)",
    "worsening": "Liver test worse than baseline",
    "hepatic_warning_signs": "Liver warning signs reported",
    "systemic_grade": "Severe side effect",
    "febrile_neutropenia": "Fever with low neutrophils",
}
templates.env.filters["rule_name"] = lambda code: RULE_NAMES.get(code, code.replace("_", " "))


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    session: StaffSession | None,
    status_code: int = 200,
) -> HTMLResponse:
    timezone = context.pop("timezone", "UTC")
    return templates.TemplateResponse(
        request,
        template,
        {
            "staff": session,
            "timezone": timezone,
            "when": lambda value: local_time(value, timezone),
            **context,
        },
        status_code=status_code,
        headers=NO_STORE,
    )


async def _timezone(db: SessionDep, staff: StaffSession) -> str:
    return await site_timezone(db, staff.principal.site or "")


# ---------------------------------------------------------------------------------- sign-in


@router.get("/static/staff.css")
async def stylesheet() -> FileResponse:
    return FileResponse(HERE / "static" / "staff.css", media_type="text/css")


@router.get("/")
async def home(request: Request) -> Response:
    try:
        staff_session.current_session(request)
    except NotSignedIn:
        return RedirectResponse("/staff/sign-in", status_code=303, headers=NO_STORE)
    return RedirectResponse("/staff/alerts", status_code=303, headers=NO_STORE)


@router.get("/sign-in")
async def sign_in_page(request: Request, expired: bool = False) -> HTMLResponse:
    message = "Your session has ended. Please sign in again." if expired else None
    return render(request, "sign_in.html", {"error": message}, session=None)


@router.post("/sign-in")
async def sign_in(request: Request, token: Annotated[str, Form(max_length=8000)]) -> Response:
    staff_session.check_origin(request)
    try:
        principal = staff_session.verify_staff_token(request.app.state.tokens, token)
    except Unauthorized as exc:
        return render(request, "sign_in.html", {"error": exc.detail}, session=None, status_code=401)
    except Problem as exc:
        return render(
            request, "sign_in.html", {"error": exc.detail}, session=None, status_code=exc.status
        )
    response = RedirectResponse("/staff/alerts", status_code=303, headers=NO_STORE)
    staff_session.set_session_cookie(request, response, token.strip(), principal)
    return response


@router.post("/sign-out")
async def sign_out(
    request: Request, staff: Staff, csrf: Annotated[str, Form(max_length=128)]
) -> Response:
    staff_session.check_form(request, staff, csrf)
    response = RedirectResponse("/staff/sign-in", status_code=303, headers=NO_STORE)
    staff_session.clear_session_cookie(request, response)
    return response


# ----------------------------------------------------------------------------------- alerts

Done = Literal["acknowledged", "resolved"]


@router.get("/alerts")
async def alert_queue(
    request: Request,
    db: SessionDep,
    staff: Staff,
    done: Done | None = None,
    subject: str | None = None,
) -> HTMLResponse:
    tables = request.app.state.tables
    queue = await alerts.list_alerts(
        db,
        tables,
        staff.principal,
        status=("open", "acknowledged"),
        subject_id=None,
        limit=UNRESOLVED_SHOWN,
    )
    unresolved = queue.alerts
    resolved = (
        await alerts.list_alerts(
            db, tables, staff.principal, status="resolved", subject_id=None, limit=RESOLVED_SHOWN
        )
    ).alerts
    message = f"Alert for subject {subject} {done}." if done and subject else None
    return render(
        request,
        "alerts.html",
        {
            "open_alerts": [a for a in unresolved if a["status"] == "open"],
            "acknowledged": [a for a in unresolved if a["status"] == "acknowledged"],
            "resolved": resolved,
            "more_unresolved": queue.next_offset is not None,
            "message": message,
            "timezone": await _timezone(db, staff),
        },
        session=staff,
    )


@router.get("/alerts/{alert_id}")
async def alert_page(request: Request, alert_id: str, db: SessionDep, staff: Staff) -> HTMLResponse:
    alert = await alerts.alert_detail(db, request.app.state.tables, staff.principal, alert_id)
    return render(
        request,
        "alert.html",
        {"alert": alert, "timezone": await _timezone(db, staff)},
        session=staff,
    )


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(
    request: Request,
    alert_id: str,
    db: SessionDep,
    staff: Staff,
    csrf: Annotated[str, Form(max_length=128)],
) -> Response:
    staff_session.check_form(request, staff, csrf)
    alert = await alerts.acknowledge(db, request.app.state.tables, staff.principal, alert_id)
    return RedirectResponse(
        f"/staff/alerts?done=acknowledged&subject={alert.subject_id}#alert-{alert.id}",
        status_code=303,
    )


@router.post("/alerts/{alert_id}/resolve")
async def resolve(
    request: Request,
    alert_id: str,
    db: SessionDep,
    staff: Staff,
    csrf: Annotated[str, Form(max_length=128)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    staff_session.check_form(request, staff, csrf)
    if not note.strip():
        raise Problem(
            422,
            "A note is needed to resolve an alert: say what was done, e.g. 'patient called, "
            "labs repeated, hepatologist informed'. Go back and add it.",
            slug="invalid-request",
        )
    alert = await alerts.resolve(
        db, request.app.state.tables, staff.principal, alert_id, note.strip()
    )
    return RedirectResponse(
        f"/staff/alerts?done=resolved&subject={alert.subject_id}", status_code=303
    )


# --------------------------------------------------------------------------------- subjects


@router.get("/subjects")
async def subjects(request: Request, db: SessionDep, staff: Staff) -> HTMLResponse:
    rows = await list_subjects(db, staff.principal)
    return render(request, "subjects.html", {"subjects": rows}, session=staff)


@router.get("/subjects/{subject_id}")
async def subject_page(
    request: Request, subject_id: str, db: SessionDep, staff: Staff
) -> HTMLResponse:
    subject = await get_subject(db, staff.principal, subject_id)
    results = await labs.lab_history(db, staff.principal, subject.id)
    by_analyte: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_analyte.setdefault(result["analyte"], []).append(result)
    record = await adverse_events.adverse_event_record(db, staff.principal, subject.id)
    cycles = sorted({c["cycle"] for term in record["terms"] for c in term["cycles"]})
    subject_alerts = (
        await alerts.list_alerts(
            db,
            request.app.state.tables,
            staff.principal,
            status=None,
            subject_id=subject.id,
            limit=50,
        )
    ).alerts
    return render(
        request,
        "subject.html",
        {
            "subject": subject,
            "labs": by_analyte,
            "record": record,
            "cycles": cycles,
            "alerts": subject_alerts,
            "timezone": await _timezone(db, staff),
        },
        session=staff,
    )


# ---------------------------------------------------------------------------------- reports


@router.get("/edish")
async def edish_page(request: Request, db: SessionDep, staff: Staff) -> HTMLResponse:
    points = await alerts.edish_report(db, staff.principal)
    return render(
        request,
        "edish.html",
        {"plot": edish_plot(points), "points": points},
        session=staff,
    )


@router.get("/toxicity")
async def toxicity_page(
    request: Request,
    db: SessionDep,
    staff: Staff,
    category: Literal["hepatic", "systemic"] = "hepatic",
) -> HTMLResponse:
    report = await reports.toxicity_report(db, staff.principal, category, None)
    return render(
        request,
        "toxicity.html",
        {"report": report, "category": category, "timezone": await _timezone(db, staff)},
        session=staff,
    )
