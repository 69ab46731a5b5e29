"""``captem``: run, serve, migrate, mint tokens, write OpenAPI, verify the audit chain."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from services.common.settings import SERVICES, ServiceName, Settings, get_settings

DEFAULT_PORTS: dict[ServiceName, int] = {"pro_api": 8000, "safety_api": 8001}
DEMO_SITE = {"id": "101", "name": "Demo site (not a real centre)", "timezone": "America/New_York"}


def _app_factory(service: ServiceName) -> Any:
    return import_module(f"services.{service}.app").create_app


def _services(choice: str | None) -> tuple[ServiceName, ...]:
    return SERVICES if choice in (None, "all") else (choice,)  # type: ignore[return-value]


async def _migrate(settings: Settings, services: Sequence[ServiceName]) -> None:
    from services.common import migrate
    from services.common.db import create_engine

    for service in services:
        url = settings.database_url(service)
        if url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine, service)
        finally:
            await engine.dispose()


async def _seed_demo(settings: Settings) -> None:
    """The demo site, in both databases, once."""
    from sqlalchemy import select

    from services.common import audit
    from services.common.db import Database, utcnow

    for service in SERVICES:
        tables = import_module(f"services.{service}.models").tables
        db = Database.connect(settings.database_url(service))
        try:
            async with db.sessionmaker() as session:
                exists = (
                    await session.execute(
                        select(tables.sites.c.id).where(tables.sites.c.id == DEMO_SITE["id"])
                    )
                ).first()
                if exists is None:
                    now = utcnow()
                    await session.execute(
                        tables.sites.insert().values(**DEMO_SITE, created_at=now, updated_at=now)
                    )
                    await audit.record(
                        session,
                        tables,
                        actor="captem run",
                        action="site.create",
                        entity_type="site",
                        entity_id=DEMO_SITE["id"],
                        site_id=DEMO_SITE["id"],
                        after=DEMO_SITE,
                        reason="demo seed",
                    )
                    await session.commit()
        finally:
            await db.dispose()


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    asyncio.run(_migrate(settings, _services(args.service)))
    print(f"migrated: {', '.join(_services(args.service))}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.common.app import settle_heap
    from services.common.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    app = _app_factory(args.service)(settings)
    settle_heap()
    port = args.port or int(os.environ.get("CAPTEM_PORT", DEFAULT_PORTS[args.service]))
    uvicorn.run(
        app,
        host=args.host,
        port=port,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=settings.shutdown_drain_s,
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Migrate, seed once, start both services as child processes, stop both on Ctrl-C."""
    from services.common.auth import Role, TokenService

    settings = get_settings()
    asyncio.run(_migrate(settings, SERVICES))
    asyncio.run(_seed_demo(settings))
    ports: dict[ServiceName, int] = {"pro_api": args.pro_port, "safety_api": args.safety_port}
    env = {**os.environ}
    env.setdefault("CAPTEM_SAFETY_API_URL", f"http://127.0.0.1:{ports['safety_api']}")
    env.setdefault("CAPTEM_PRO_API_URL", f"http://127.0.0.1:{ports['pro_api']}")
    children = [
        subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
            [
                sys.executable,
                "-m",
                "services.common.cli",
                "serve",
                service,
                "--host",
                args.host,
                "--port",
                str(ports[service]),
            ],
            env=env,
        )
        for service in SERVICES
    ]
    tokens = TokenService.from_settings(settings)
    staff = tokens.mint(
        role=Role.SITE_STAFF,
        sub="demo-staff",
        site=DEMO_SITE["id"],
        audience=list(SERVICES),
        ttl_s=12 * 3600,
    )
    admin = tokens.mint(
        role=Role.TRIAL_ADMIN, sub="demo-admin", audience=list(SERVICES), ttl_s=12 * 3600
    )
    print(
        f"""
captem is starting (Ctrl-C stops both services)
  pro_api     http://{args.host}:{ports["pro_api"]}   (docs: /docs)
  safety_api  http://{args.host}:{ports["safety_api"]}   (docs: /docs)
  demo site   {DEMO_SITE["id"]} ({DEMO_SITE["timezone"]})
  staff token (site {DEMO_SITE["id"]}, 12 h):
    {staff}
  trial admin token (12 h):
    {admin}
""",
        flush=True,
    )
    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=25)
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if failed and not stopping else 0


def cmd_token(args: argparse.Namespace) -> int:
    from services.common.auth import Role, TokenService

    tokens = TokenService.from_settings(get_settings())
    audience = args.aud or list(SERVICES)
    print(
        tokens.mint(
            role=Role(args.role),
            sub=args.sub or f"cli-{args.role}",
            site=args.site,
            pid=args.patient,
            audience=audience,
            ttl_s=args.ttl,
        )
    )
    return 0


def openapi_documents() -> dict[ServiceName, dict[str, Any]]:
    settings = Settings(env="test", jwt_secret="x" * 40, dispatcher_enabled=False)
    return {service: _app_factory(service)(settings).openapi() for service in SERVICES}


def render_openapi(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def cmd_openapi(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for service, document in openapi_documents().items():
        (out / f"{service}.json").write_text(render_openapi(document))
        print(f"wrote {out / f'{service}.json'}")
    return 0


async def _verify(settings: Settings, services: Sequence[ServiceName]) -> int:
    from services.common.audit import verify_chain
    from services.common.db import create_engine

    status = 0
    for service in services:
        tables = import_module(f"services.{service}.models").tables
        engine = create_engine(settings.database_url(service))
        try:
            async with engine.connect() as conn:
                report = await verify_chain(conn, tables)
        finally:
            await engine.dispose()
        if report.ok:
            print(f"{service}: audit chain intact ({report.checked} events)")
        else:
            status = 1
            print(
                f"{service}: audit chain BROKEN at audit_events.id={report.broken_id}: "
                f"{report.problem} ({report.checked} events before it verified)"
            )
    return status


def cmd_audit(args: argparse.Namespace) -> int:
    return asyncio.run(_verify(get_settings(), _services(args.service)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="captem", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    service_choice = {"choices": [*SERVICES, "all"], "nargs": "?", "default": "all"}

    p = sub.add_parser("run", help="migrate, seed the demo site and start both services")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--pro-port", type=int, default=DEFAULT_PORTS["pro_api"])
    p.add_argument("--safety-port", type=int, default=DEFAULT_PORTS["safety_api"])
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("serve", help="run one service (production entry point)")
    p.add_argument("service", choices=SERVICES)
    # argparse puts the service after options given by the Docker ENTRYPOINT; both orders work.
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="upgrade database(s) to the latest migration")
    p.add_argument("service", **service_choice)  # type: ignore[arg-type]
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("token", help="mint a token with the configured key (dev and tests)")
    p.add_argument(
        "--role",
        required=True,
        choices=[
            "patient",
            "site_staff",
            "site_admin",
            "ehr_client",
            "service",
            "monitor",
            "trial_admin",
        ],
    )
    p.add_argument("--site")
    p.add_argument("--patient")
    p.add_argument("--sub")
    p.add_argument("--aud", choices=SERVICES, action="append")
    p.add_argument("--ttl", type=int, default=3600)
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("openapi", help="write openapi/pro_api.json and openapi/safety_api.json")
    p.add_argument("--out", default="openapi")
    p.set_defaults(func=cmd_openapi)

    p = sub.add_parser("audit", help="audit trail tools")
    audit_sub = p.add_subparsers(dest="audit_command", required=True)
    v = audit_sub.add_parser("verify", help="check the audit hash chain")
    v.add_argument("service", **service_choice)  # type: ignore[arg-type]
    v.set_defaults(func=cmd_audit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except Exception as exc:  # a clear one-line failure for operators, not a traceback
        if os.environ.get("CAPTEM_DEBUG"):
            raise
        print(f"captem {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
