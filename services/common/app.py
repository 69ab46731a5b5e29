"""The application factory both services use: middleware, problem handlers, platform routes,
and a lifespan that starts and stops the outbox dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI

from services.common import health, sites
from services.common.auth import TokenService
from services.common.db import Database
from services.common.errors import (
    PROBLEM_JSON,
    ProblemDocument,
    UnexpectedErrorMiddleware,
    install_problem_handlers,
)
from services.common.idempotency import install_idempotency_handler, prune_expired
from services.common.limits import BodySizeLimitMiddleware
from services.common.logs import AccessLogMiddleware
from services.common.outbox import Deliverer, Dispatcher
from services.common.requestid import RequestIdMiddleware
from services.common.security import SecurityHeadersMiddleware
from services.common.settings import ServiceName, Settings
from services.common.tables import PlatformTables

log = logging.getLogger("captem.app")
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class PeriodicTask:
    """Work a service repeats in the background (e.g. alert escalation). It must be safe to run
    in several replicas at once (claim rows with SKIP LOCKED)."""

    name: str
    interval_s: float
    run: Callable[[Database, PlatformTables], Awaitable[object]]


async def _repeat(task: PeriodicTask, db: Database, tables: PlatformTables) -> None:
    while True:
        try:
            await task.run(db, tables)
        except Exception:  # keep going: the database may be restarting
            log.exception("periodic task failed", extra={"task": task.name})
        await asyncio.sleep(task.interval_s)


def settle_heap() -> None:
    """Once the app is built: move everything alive now (modules, pydantic and FHIR model
    classes, the CTCAE tables: hundreds of thousands of objects that live as long as the
    process) out of the garbage collector's sight (``gc.freeze``). Otherwise every full
    collection walks them all, and a request that happens to trigger one waits ~100 ms: on the
    100x trial that was the whole of the staff pages' p99 (bench/scale). Call it from a server's
    entry point, not from code that builds many apps in one process (tests)."""
    gc.collect()
    gc.freeze()


DeliverersFactory = Callable[[Database, PlatformTables], Mapping[str, Deliverer]]


def listen_dsn(url: str) -> str | None:
    """asyncpg's own DSN for LISTEN (PostgreSQL only)."""
    if not url.startswith("postgresql"):
        return None
    return "postgresql://" + url.split("://", 1)[1]


def problem_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Document every error response, FastAPI's own 422 included, as a problem document; on
    ``/fhir`` routes errors are FHIR OperationOutcome resources instead."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["ProblemDocument"] = ProblemDocument.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}}
    outcome = {FHIR_JSON: {"schema": {"type": "object", "description": "FHIR R4 OperationOutcome"}}}
    for path, operations in schema.get("paths", {}).items():
        content = outcome if path.startswith("/fhir") else problem
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status.startswith(("4", "5")):
                    response["content"] = content
                    if status == "422":
                        response["description"] = "The request has invalid fields"
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema


def create_service_app(
    *,
    service: ServiceName,
    title: str,
    description: str,
    version: str,
    settings: Settings,
    tables: PlatformTables,
    routers: Sequence[APIRouter],
    deliverers: DeliverersFactory,
    periodic: Sequence[PeriodicTask] = (),
) -> FastAPI:
    db = Database.connect(settings.database_url(service))
    periodic = [
        *periodic,
        PeriodicTask(
            "idempotency-retention",
            3600.0,
            lambda db, tables: prune_expired(
                db, tables, retention_h=settings.idempotency_retention_h
            ),
        ),
    ]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = None
        if settings.dispatcher_enabled:
            dispatcher = Dispatcher(
                db,
                tables,
                deliverers(db, tables),
                schedule=settings.outbox_retry_schedule_s,
                jitter=settings.outbox_jitter,
                batch_size=settings.outbox_batch_size,
                lease_s=settings.outbox_lease_s,
                poll_interval_s=settings.outbox_poll_interval_s,
                http_timeout_s=settings.outbox_http_timeout_s,
                name=f"{service}-{id(app):x}",
                listen_dsn=listen_dsn(db.url),
            )
            await dispatcher.start()
            app.state.dispatcher = dispatcher
        background = [
            asyncio.create_task(_repeat(task, db, tables), name=task.name)
            for task in periodic
            if settings.dispatcher_enabled and settings.periodic_tasks_enabled
        ]
        try:
            yield
        finally:
            for job in background:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            if dispatcher is not None:
                await dispatcher.stop(settings.dispatcher_stop_grace_s)
            await db.dispose()

    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.service_name = service
    app.state.settings = settings
    app.state.db = db
    app.state.tables = tables
    app.state.tokens = TokenService.from_settings(settings)
    app.state.dispatcher = None
    install_problem_handlers(app)
    install_idempotency_handler(app)
    app.include_router(health.router)
    app.include_router(sites.router)
    for router in routers:
        app.include_router(router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(AccessLogMiddleware, service=service)
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(RequestIdMiddleware)
    # Outermost, so error responses from the middleware above carry the headers too.
    app.add_middleware(SecurityHeadersMiddleware)
    # Problem documents are referenced from every route's error responses.
    app.openapi_schema = None
    _original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_openapi(_original_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
