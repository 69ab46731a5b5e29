"""Request size limit: bodies over the configured size are refused with a 413 problem."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import problem_response


def _detail(max_bytes: int) -> str:
    return (
        f"The request body is larger than {max_bytes:,} bytes. Send less data per request "
        "(for example, split a lab batch into smaller bundles)."
    )


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = problem_response(413, _detail(self.max_bytes), slug="request-too-large")
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            # Chunked bodies have no Content-Length: count as they arrive. An HTTPException passes
            # through FastAPI's body parsing untouched and becomes a problem response.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, _detail(self.max_bytes))
            return message

        await self.app(scope, limited_receive, send)
