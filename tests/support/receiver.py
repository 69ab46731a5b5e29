"""A real local HTTP receiver (uvicorn on 127.0.0.1, random port) that records what arrives and
answers as a test scripts it: fail the first N attempts per message, always fail, or 410, and
optionally hang before answering (slow or timing-out receivers)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Receiver:
    url: str = ""
    fail_first: int = 0
    status_when_failing: int = 500
    always_status: int | None = None
    # Hang this long before answering the first ``delay_first`` attempts per message (0: all).
    delay_s: float = 0.0
    delay_first: int = 0
    id_header: str = "idempotency-key"
    seen: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    bodies: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: dict[str, tuple[str, str]] = field(default_factory=dict)  # (method, path)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: Request) -> Response:
        message_id = request.headers.get(self.id_header, "?")
        self.seen[message_id] += 1
        if self.delay_s and (not self.delay_first or self.seen[message_id] <= self.delay_first):
            body = await request.body()  # read before hanging: a timed-out sender hangs up
            with contextlib.suppress(TimeoutError):  # hangs end early when the receiver stops
                await asyncio.wait_for(self.stopping.wait(), self.delay_s)
            if await request.is_disconnected():  # the sender gave up: nothing was acted on
                return Response(status_code=408)
            request._body = body
        if self.always_status is not None:
            return Response(status_code=self.always_status)
        if self.seen[message_id] <= self.fail_first:
            return Response(status_code=self.status_when_failing)
        self.accepted[message_id] += 1
        self.bodies[message_id] = await request.body()
        self.headers[message_id] = dict(request.headers)
        self.requests[message_id] = (request.method, request.url.path)
        return Response(status_code=204)

    async def wait_for(self, count: int, timeout_s: float = 15.0) -> None:
        async def until() -> None:
            while sum(1 for v in self.accepted.values() if v) < count:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(until(), timeout_s)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def running_receiver(**options: object) -> AsyncIterator[Receiver]:
    receiver = Receiver(**options)  # type: ignore[arg-type]
    app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["POST", "PUT"])])
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        receiver.stopping.set()
        server.should_exit = True
        await task
