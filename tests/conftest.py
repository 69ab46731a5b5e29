"""Test fixtures: every database test runs on SQLite and, when TEST_POSTGRES_URL is set, on
PostgreSQL. In CI (``CI=true``) a missing PostgreSQL fails the run instead of skipping.

Databases are real, migrated with the real Alembic migrations once per backend per worker; tests
isolate themselves by creating their own sites and subjects (factories), not by sharing state.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.settings import SERVICES, Settings
from tests.support import databases as dbs
from tests.support.tokens import TEST_SECRET, TokenFactory

BACKENDS = ["sqlite", "postgres"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CI") == "true" and not os.environ.get("TEST_POSTGRES_URL"):
        raise pytest.UsageError(
            "CI=true but TEST_POSTGRES_URL is not set: the PostgreSQL half "
            "of the suite would silently skip. Set it (see .ci/run)."
        )


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres" and not os.environ.get("TEST_POSTGRES_URL"):
        pytest.skip("TEST_POSTGRES_URL is not set; PostgreSQL tests skipped (never in CI)")
    return name


@pytest.fixture(scope="session")
def worker_id_tag(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))


@pytest.fixture(scope="session")
async def database_urls(
    backend: str, worker_id_tag: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, str]]:
    """One migrated database per service for this backend and worker."""
    async with dbs.migrated_databases(
        backend, f"s_{worker_id_tag}", tmp_path_factory.mktemp(f"db-{backend}")
    ) as urls:
        yield urls


def make_settings(urls: dict[str, str], data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "jwt_secret": TEST_SECRET,
        "data_dir": data_dir,
        "pro_database_url": urls["pro_api"],
        "safety_database_url": urls["safety_api"],
        "dispatcher_enabled": False,
        "outbox_retry_schedule_s": (0.0, 0.05, 0.05, 0.05),
        "outbox_poll_interval_s": 0.05,
        "outbox_jitter": 0.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def settings(database_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(database_urls, tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


ClientFactory = Callable[..., Any]


@pytest.fixture
async def client_for(settings: Settings) -> AsyncIterator[ClientFactory]:
    """``client_for("safety_api")`` → an httpx client on a fresh app (lifespan running)."""
    from tests.support.apps import running_client

    stack: list[Any] = []

    async def make(
        service: str,
        *,
        app_settings: Settings | None = None,
        customise: Callable[[Any], None] | None = None,
    ) -> httpx.AsyncClient:
        manager = running_client(service, app_settings or settings, customise=customise)
        client = await manager.__aenter__()
        stack.append(manager)
        return client

    yield make
    for manager in reversed(stack):
        await manager.__aexit__(None, None, None)


@pytest.fixture
async def safety(client_for: ClientFactory) -> httpx.AsyncClient:
    client: httpx.AsyncClient = await client_for("safety_api")
    return client


@pytest.fixture
async def pro(client_for: ClientFactory) -> httpx.AsyncClient:
    client: httpx.AsyncClient = await client_for("pro_api")
    return client


__all__ = ["SERVICES"]
