"""Security headers on every response of both services.

Pages (``/app/``, ``/staff/``) and API responses get one strict Content-Security-Policy: scripts,
styles, images, fetches and workers only from this origin, no inline script, never framed
(``frame-ancestors 'none'``, clickjacking). The interactive API docs (``/docs``, ``/redoc``) are
FastAPI's stock pages, which load Swagger/ReDoc from a CDN with an inline bootstrap script; they
keep every other header but get a CSP that only forbids framing, rather than a strict one that
would break them.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
DOCS_CSP = "frame-ancestors 'none'"
DOCS_PATHS = ("/docs", "/redoc")

COMMON_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def csp_for(path: str) -> str:
    return DOCS_CSP if path.startswith(DOCS_PATHS) else STRICT_CSP


class SecurityHeadersMiddleware:
    """Adds the headers unless a handler already set one (a route may tighten its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = csp_for(scope.get("path", "")).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in (*COMMON_HEADERS, (b"content-security-policy", csp)):
                    if name not in present:
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
