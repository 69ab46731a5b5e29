"""Configuration for both services, read from the environment (prefix ``CAPTEM_``).

Development needs nothing set: databases are SQLite files under ``var/`` and a random JWT
secret is generated once into ``var/``. Production (``CAPTEM_ENV=production``) refuses to start
with a missing, short or generated development secret unless asymmetric keys are configured.
"""

from __future__ import annotations

import datetime as dt
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ServiceName = Literal["pro_api", "safety_api"]
SERVICES: tuple[ServiceName, ServiceName] = ("pro_api", "safety_api")

DEV_SECRET_FILE = "jwt-dev-secret"  # noqa: S105 (a file name, not a secret)
MIN_SECRET_LENGTH = 32
# Standard Webhooks 1.0 retry schedule (seconds after the previous attempt): immediately, 5 s,
# 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
STANDARD_WEBHOOKS_SCHEDULE = (
    0.0,
    5.0,
    300.0,
    1800.0,
    7200.0,
    18000.0,
    36000.0,
    50400.0,
    72000.0,
    86400.0,
)


class InsecureConfiguration(RuntimeError):
    """Raised at start-up when production settings would be unsafe."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAPTEM_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")

    pro_database_url: str | None = None
    safety_database_url: str | None = None
    safety_api_url: str = "http://127.0.0.1:8001"
    pro_api_url: str = "http://127.0.0.1:8000"

    jwt_secret: str | None = None
    jwt_issuer: str = "captem"
    # PEM file with the private key this deployment signs its own tokens with (patient access
    # tokens, service tokens) in production; the matching public key must be in jwt_public_keys.
    jwt_private_key_file: Path | None = None
    jwt_private_key_id: str | None = None
    # PEM public key or JWKS (JSON) file: keys accepted for RS256/ES256 tokens.
    jwt_public_keys_file: Path | None = None
    access_token_ttl_s: int = 900

    idempotency_lease_s: float = 30.0
    idempotency_retention_h: int = 72

    outbox_poll_interval_s: float = 1.0
    outbox_batch_size: int = 20
    outbox_lease_s: float = 60.0
    outbox_http_timeout_s: float = 10.0
    outbox_retry_schedule_s: tuple[float, ...] = STANDARD_WEBHOOKS_SCHEDULE
    outbox_jitter: float = Field(default=0.1, ge=0.0, le=0.5)
    dispatcher_enabled: bool = True
    # On SIGTERM: requests in flight get up to shutdown_drain_s to finish, then deliveries in
    # flight get dispatcher_stop_grace_s before their claims are released for another replica.
    # Together they stay inside Docker's and Kubernetes' default stop timeouts (10 s, 30 s).
    shutdown_drain_s: int = Field(default=6, ge=0, le=300)
    dispatcher_stop_grace_s: float = Field(default=3.0, ge=0.0, le=300.0)
    # Background jobs (alert escalation, diary reminders); they run where the dispatcher runs.
    periodic_tasks_enabled: bool = True
    escalation_interval_s: float = 30.0

    max_request_bytes: int = 1_000_000
    log_level: str = "INFO"
    instruments_dir: Path | None = None

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.env != "production":
            return self
        if self.jwt_public_keys_file is None and self.jwt_private_key_file is None:
            secret = self.jwt_secret or ""
            if len(secret) < MIN_SECRET_LENGTH or secret.startswith("dev-"):
                raise InsecureConfiguration(
                    "CAPTEM_ENV=production needs CAPTEM_JWT_PUBLIC_KEYS_FILE and "
                    "CAPTEM_JWT_PRIVATE_KEY_FILE (RS256/ES256), or a random CAPTEM_JWT_SECRET of "
                    f"at least {MIN_SECRET_LENGTH} characters; refusing to start with a "
                    "development or missing secret."
                )
        if self.pro_database_url is None or self.safety_database_url is None:
            raise InsecureConfiguration(
                "CAPTEM_ENV=production needs CAPTEM_PRO_DATABASE_URL and "
                "CAPTEM_SAFETY_DATABASE_URL (PostgreSQL); the embedded SQLite default is for "
                "development only."
            )
        return self

    def database_url(self, service: ServiceName) -> str:
        configured = self.pro_database_url if service == "pro_api" else self.safety_database_url
        if configured:
            return normalise_database_url(configured)
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.sqlite3').as_posix()}"

    @cached_property
    def signing_secret(self) -> str | None:
        """The HS256 secret: configured, or in development generated once into ``data_dir``."""
        if self.jwt_secret:
            return self.jwt_secret
        if self.env == "production":
            return None
        path = self.data_dir / DEV_SECRET_FILE
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text("dev-" + secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    # pro_api patient sign-in: activation codes handed out by site staff, the phone's refresh
    # tokens, and how many wrong activation codes one client may try before it must wait.
    activation_code_ttl_s: int = Field(default=14 * 24 * 3600, ge=60)
    refresh_token_ttl_s: int = Field(default=90 * 24 * 3600, ge=60)
    activation_max_failures: int = Field(default=5, ge=1)
    activation_failure_window_s: int = Field(default=15 * 60, ge=1)
    # A phone that lost the answer to an activation or a refresh may retry with the same code or
    # refresh token this long afterwards, as long as the session it was given is still unused.
    auth_retry_grace_s: int = Field(default=30, ge=0)

    # pro_api diary: how many local days after a diary day it can still be entered (DESIGN.md,
    # anti-backfill: until the end of the next local day), and the reminder job.
    diary_grace_days: int = Field(default=1, ge=0, le=7)
    reminder_interval_s: float = Field(default=300.0, gt=0)
    # Local time (HH:MM, patient's time zone) after which a day not yet filled in is reminded.
    diary_reminder_local_time: dt.time = dt.time(20, 0)
    # Remind when an open questionnaire window closes within this many local days.
    assessment_closing_reminder_days: int = Field(default=2, ge=0)


def normalise_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs and pick the async drivers."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def get_settings() -> Settings:
    return Settings()
