"""Staff sign-in for the pages: the staff token in an HttpOnly cookie, and CSRF protection.

The token is pasted once into a sign-in form (the site's identity provider can sit in front
later and set the same cookie). The cookie is ``HttpOnly`` (page scripts never see it),
``SameSite=Strict`` (other sites' pages cannot make the browser send it), limited to
``/staff`` and ``Secure`` whenever the page is served over HTTPS. On top of that every form that
changes something carries a CSRF token derived from the session token (HMAC), and every POST
whose ``Origin`` names another origin is refused: SameSite alone does not cover older browsers
or same-site subdomains.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from fastapi import Request, Response

from services.common.auth import STAFF_ROLES, Principal, TokenService, Unauthorized
from services.common.errors import Problem

COOKIE = "captem_staff"
COOKIE_PATH = "/staff"


@dataclass(frozen=True)
class StaffSession:
    principal: Principal
    csrf: str


class NotSignedIn(Exception):
    """The page needs a signed-in staff member; ``reason`` is shown on the sign-in page."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "")
        self.reason = reason


def csrf_token(session_token: str) -> str:
    """Only someone holding the (HttpOnly) session token can compute it."""
    return hmac.new(session_token.encode(), b"captem-staff-csrf", hashlib.sha256).hexdigest()


def verify_staff_token(tokens: TokenService, token: str) -> Principal:
    """The principal of a staff token for safety_api, or a Problem saying what is wrong."""
    principal = tokens.verify(token.strip(), "safety_api")
    if principal.role not in STAFF_ROLES:
        raise Problem(
            403,
            f"This page is for site staff; a {principal.role} token cannot sign in here.",
            slug="forbidden",
        )
    return principal


def current_session(request: Request) -> StaffSession:
    token = request.cookies.get(COOKIE)
    if not token:
        raise NotSignedIn()
    try:
        principal = verify_staff_token(request.app.state.tokens, token)
    except Unauthorized as exc:
        raise NotSignedIn(f"Please sign in again: {exc.detail}") from None
    except Problem as exc:
        raise NotSignedIn(exc.detail) from None
    request.state.principal = principal
    return StaffSession(principal=principal, csrf=csrf_token(token))


def check_form(request: Request, session: StaffSession, submitted_csrf: str) -> None:
    check_origin(request)
    if not hmac.compare_digest(submitted_csrf, session.csrf):
        raise Problem(
            403,
            "This form is out of date or did not come from this site. Reload the page and "
            "try again.",
            slug="csrf",
        )


def check_origin(request: Request) -> None:
    """Refuse a POST a browser says came from elsewhere. ``Sec-Fetch-Site`` is sent whatever
    the referrer policy; ``Origin`` is "null" under ``Referrer-Policy: no-referrer`` (which these
    pages use), so only a named foreign origin counts against the request."""
    fetch_site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    foreign_origin = origin not in (None, "null", own)
    if foreign_origin or fetch_site not in (None, "same-origin", "none"):
        raise Problem(403, "Forms may only be sent from this site's own pages.", slug="csrf")


def set_session_cookie(
    request: Request, response: Response, token: str, principal: Principal
) -> None:
    expires = int(principal.claims.get("exp", 0))
    response.set_cookie(
        COOKIE,
        token,
        max_age=max(0, expires - int(time.time())),
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
