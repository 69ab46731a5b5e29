"""Authentication and scope: JWTs via python-jose with an explicit algorithm allow-list.

Tokens carry ``iss``, ``aud`` (``pro_api``/``safety_api``), ``sub``, ``role``, ``site`` (site-scoped
roles), ``pid`` (patients), ``exp``, ``iat``, ``jti``. Development signs with HS256 and a generated
secret; production verifies RS256/ES256 against configured public keys (PEM or JWKS) and never
accepts HS256 unless a strong secret is configured. The algorithm in a token's header only chooses
among keys of that algorithm's family, so a public key can never be used as an HMAC secret.

Scope is enforced where data is read: repositories call :func:`site_filter` /
:func:`ensure_site_access` with the principal, and out-of-scope data is reported as not found.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jose import JWTError, jwk, jwt
from jose.exceptions import ExpiredSignatureError, JWTClaimsError
from sqlalchemy import ColumnElement, true

from services.common.errors import NotFound, Problem
from services.common.settings import ServiceName, Settings

ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
SYMMETRIC_ALGORITHMS = ("HS256",)
REQUIRED_CLAIMS = ("iss", "aud", "sub", "role", "exp", "iat", "jti")
# Our tokens are a few hundred bytes; anything near a header-size limit is not one of ours.
MAX_TOKEN_LENGTH = 8192
# Tolerated difference between the issuer's clock and ours when checking ``iat``.
CLOCK_SKEW_S = 60


class Role(StrEnum):
    PATIENT = "patient"
    SITE_STAFF = "site_staff"
    SITE_ADMIN = "site_admin"
    EHR_CLIENT = "ehr_client"
    SERVICE = "service"
    MONITOR = "monitor"
    TRIAL_ADMIN = "trial_admin"


# Roles confined to one site (their token's ``site`` claim); the others see every site.
SITE_SCOPED_ROLES = frozenset({Role.PATIENT, Role.SITE_STAFF, Role.SITE_ADMIN, Role.EHR_CLIENT})
STAFF_ROLES = frozenset({Role.SITE_STAFF, Role.SITE_ADMIN})


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role
    issuer: str
    site: str | None = None
    pid: str | None = None
    jti: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> str:
        """Stable identity for per-principal records (idempotency keys, audit actor)."""
        return f"{self.issuer}|{self.role}|{self.sub}"

    @property
    def all_sites(self) -> bool:
        return self.role not in SITE_SCOPED_ROLES

    def can_see_site(self, site_id: str) -> bool:
        return self.all_sites or self.site == site_id


class Unauthorized(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(
            401,
            detail,
            slug="unauthorized",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


class Forbidden(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(403, detail, slug="forbidden")


def _load_public_keys(path: Path) -> dict[str | None, Any]:
    """Public keys by ``kid`` from a JWKS file, or a single PEM key (kid ``None``)."""
    text = path.read_text()
    if text.lstrip().startswith("{"):
        keys = json.loads(text).get("keys", [])
        return {k.get("kid"): k for k in keys}
    return {None: text}


@dataclass
class TokenService:
    """Verifies incoming tokens and mints this deployment's own (patient, service, dev tokens)."""

    issuer: str
    secret: str | None
    public_keys: dict[str | None, Any]
    private_key: str | None = None
    private_key_id: str | None = None
    private_algorithm: str | None = None
    default_ttl_s: int = 900

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenService:
        public = (
            _load_public_keys(settings.jwt_public_keys_file)
            if settings.jwt_public_keys_file
            else {}
        )
        private = (
            settings.jwt_private_key_file.read_text() if settings.jwt_private_key_file else None
        )
        algorithm = None
        if private is not None:
            algorithm = "ES256" if "EC PRIVATE KEY" in private or _is_ec_pem(private) else "RS256"
        return cls(
            issuer=settings.jwt_issuer,
            secret=settings.signing_secret,
            public_keys=public,
            private_key=private,
            private_key_id=settings.jwt_private_key_id,
            private_algorithm=algorithm,
            default_ttl_s=settings.access_token_ttl_s,
        )

    @property
    def allowed_algorithms(self) -> tuple[str, ...]:
        allowed: tuple[str, ...] = ()
        if self.secret:
            allowed += SYMMETRIC_ALGORITHMS
        if self.public_keys:
            allowed += ASYMMETRIC_ALGORITHMS
        return allowed

    def mint(
        self,
        *,
        role: Role | str,
        sub: str,
        audience: str | list[str],
        site: str | None = None,
        pid: str | None = None,
        ttl_s: int | None = None,
        now: dt.datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        issued = now or dt.datetime.now(dt.UTC)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience,
            "sub": sub,
            "role": str(role),
            "iat": int(issued.timestamp()),
            "exp": int((issued + dt.timedelta(seconds=ttl_s or self.default_ttl_s)).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        if site is not None:
            claims["site"] = site
        if pid is not None:
            claims["pid"] = pid
        claims.update(extra or {})
        if self.private_key is not None and self.private_algorithm is not None:
            headers = {"kid": self.private_key_id} if self.private_key_id else None
            return jwt.encode(
                claims, self.private_key, algorithm=self.private_algorithm, headers=headers
            )
        if not self.secret:
            raise RuntimeError("no signing key configured")
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def verify(self, token: str, audience: ServiceName) -> Principal:
        if len(token) > MAX_TOKEN_LENGTH:
            raise Unauthorized(f"The bearer token is longer than {MAX_TOKEN_LENGTH} characters.")
        try:
            header = jwt.get_unverified_header(token)
        except JWTError:
            raise Unauthorized(
                "The bearer token is not a well-formed JWT. Sign in again."
            ) from None
        if "crit" in header:
            # RFC 7515 4.1.11: a token naming extensions the recipient must understand is refused
            # unless it understands them all; this service understands none.
            raise Unauthorized("The token names critical header extensions this service refuses.")
        algorithm = header.get("alg")
        if algorithm not in self.allowed_algorithms:
            raise Unauthorized(
                f"Tokens signed with {algorithm!r} are not accepted here; "
                f"accepted: {', '.join(self.allowed_algorithms)}."
            )
        if algorithm in SYMMETRIC_ALGORITHMS:
            key: Any = self.secret
        else:
            key = self.public_keys.get(header.get("kid"))
            if key is None and len(self.public_keys) == 1:
                key = next(iter(self.public_keys.values()))
            if key is None:
                raise Unauthorized("The token's signing key (kid) is not one this service trusts.")
            if isinstance(key, dict):
                key = jwk.construct(key, algorithm)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=audience,
                issuer=self.issuer,
                options={"require_" + c: True for c in ("exp", "iat", "aud", "iss", "sub", "jti")},
            )
        except ExpiredSignatureError:
            raise Unauthorized("The token has expired. Refresh it or sign in again.") from None
        except JWTClaimsError as exc:
            raise Unauthorized(f"The token was not issued for this service: {exc}.") from None
        except JWTError as exc:
            if "missing required key" in str(exc):
                raise Unauthorized(f"The token lacks a required claim: {exc}.") from None
            raise Unauthorized("The token's signature does not verify.") from None
        _check_times(claims)
        return principal_from_claims(claims)


def _check_times(claims: dict[str, Any]) -> None:
    """RFC 7519 NumericDates are JSON numbers (python-jose also accepts numeric strings), and a
    token is not issued in the future (python-jose does not check ``iat``)."""
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise Unauthorized(f"The token's {name!r} claim must be a number of seconds.")
    now = dt.datetime.now(dt.UTC).timestamp()
    if claims["iat"] > now + CLOCK_SKEW_S:
        raise Unauthorized("The token claims to be issued in the future; check the issuer's clock.")


def _is_ec_pem(pem: str) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return isinstance(load_pem_private_key(pem.encode(), password=None), ec.EllipticCurvePrivateKey)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    missing = [c for c in REQUIRED_CLAIMS if c not in claims]
    if missing:
        raise Unauthorized(f"The token lacks required claims: {', '.join(missing)}.")
    try:
        role = Role(claims["role"])
    except ValueError:
        raise Unauthorized(f"Unknown role {claims['role']!r} in token.") from None
    site = claims.get("site")
    pid = claims.get("pid")
    if role in SITE_SCOPED_ROLES and not site:
        raise Unauthorized(f"A {role} token must name its site (claim 'site').")
    if role is Role.PATIENT and not pid:
        raise Unauthorized("A patient token must name the patient (claim 'pid').")
    return Principal(
        sub=str(claims["sub"]),
        role=role,
        issuer=str(claims["iss"]),
        site=str(site) if site else None,
        pid=str(pid) if pid else None,
        jti=str(claims["jti"]),
        claims=claims,
    )


_bearer = HTTPBearer(auto_error=False)


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send a bearer token in the Authorization header.")
    tokens: TokenService = request.app.state.tokens
    principal = tokens.verify(credentials.credentials, request.app.state.service_name)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Callable[..., Any]:
    allowed = frozenset(roles)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(
                f"The {principal.role} role cannot do this; it needs one of: "
                f"{', '.join(sorted(allowed))}."
            )
        return principal

    return dependency


def site_filter(principal: Principal, site_column: Any) -> ColumnElement[bool]:
    """The WHERE clause limiting a query to what the principal may see."""
    if principal.all_sites:
        return true()
    return site_column == principal.site


def ensure_site_access(principal: Principal, site_id: str, what: str) -> None:
    """Out-of-scope data is reported exactly like missing data: 404, nothing leaks."""
    if not principal.can_see_site(site_id):
        raise NotFound(what)
