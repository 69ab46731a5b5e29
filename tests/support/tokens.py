"""Tokens for tests, signed with the test suite's HS256 secret (and RSA/EC keys when asked)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from jose import jwt

from services.common.auth import Role, TokenService

TEST_SECRET = "test-secret-" + "x" * 40
ISSUER = "captem"


class TokenFactory:
    def __init__(self, secret: str = TEST_SECRET) -> None:
        self.service = TokenService(issuer=ISSUER, secret=secret, public_keys={})

    def __call__(
        self,
        role: Role | str,
        *,
        site: str | None = None,
        pid: str | None = None,
        aud: str | list[str] = "safety_api",
        sub: str | None = None,
        ttl_s: int = 600,
        now: dt.datetime | None = None,
    ) -> str:
        return self.service.mint(
            role=role,
            sub=sub or f"test-{role}",
            audience=aud,
            site=site,
            pid=pid,
            ttl_s=ttl_s,
            now=now,
        )

    def headers(self, role: Role | str, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self(role, **kwargs)}"}


def raw_token(claims: dict[str, Any], key: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)
