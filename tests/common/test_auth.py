"""Authentication: each attack is rejected with a problem document, and scope is enforced at
read time (a site A token on site B's data is 404, exactly like missing data)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.common.auth import Role, TokenService
from tests.conftest import make_settings
from tests.support.factories import create_site
from tests.support.tokens import ISSUER, TEST_SECRET, raw_token

PROBLEM = "application/problem+json"


def _claims(**overrides):
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {
        "iss": ISSUER,
        "aud": "safety_api",
        "sub": "x",
        "role": "monitor",
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
    }
    claims.update(overrides)
    return claims


def _assert_401(response, fragment: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert fragment in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


async def _get_site(client, token, site_id="101"):
    return await client.get(f"/v1/sites/{site_id}", headers={"Authorization": f"Bearer {token}"})


async def test_no_token_is_401(safety) -> None:
    response = await safety.get("/v1/sites/101")
    _assert_401(response, "bearer token")


async def test_expired_token_is_401(safety) -> None:
    token = raw_token(_claims(exp=int(dt.datetime.now(dt.UTC).timestamp()) - 5), TEST_SECRET)
    _assert_401(await _get_site(safety, token), "expired")


async def test_token_for_the_other_service_is_401(safety) -> None:
    token = raw_token(_claims(aud="pro_api"), TEST_SECRET)
    _assert_401(await _get_site(safety, token), "not issued for this service")


async def test_token_from_another_issuer_is_401(safety) -> None:
    token = raw_token(_claims(iss="someone-else"), TEST_SECRET)
    _assert_401(await _get_site(safety, token), "not issued for this service")


async def test_wrong_signature_is_401(safety) -> None:
    token = raw_token(_claims(), "another-secret-" + "y" * 40)
    _assert_401(await _get_site(safety, token), "signature")


async def test_tampered_claims_are_401(safety, tokens) -> None:
    token = tokens("site_staff", site="101")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "trial_admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _assert_401(await _get_site(safety, f"{header}.{forged}.{signature}"), "signature")


async def test_alg_none_is_401(safety) -> None:
    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(_claims(role='trial_admin'))}."
    _assert_401(await _get_site(safety, token), "'none' are not accepted")


async def test_garbage_token_is_401(safety) -> None:
    _assert_401(await _get_site(safety, "not-a-jwt"), "well-formed")


async def test_token_missing_a_required_claim_is_401(safety) -> None:
    claims = _claims()
    del claims["jti"]
    _assert_401(await _get_site(safety, raw_token(claims, TEST_SECRET)), "jti")


async def test_site_staff_token_without_site_is_401(safety) -> None:
    _assert_401(
        await _get_site(safety, raw_token(_claims(role="site_staff"), TEST_SECRET)),
        "must name its site",
    )


async def test_unknown_role_is_401(safety) -> None:
    _assert_401(
        await _get_site(safety, raw_token(_claims(role="root"), TEST_SECRET)), "Unknown role"
    )


async def test_site_a_token_on_site_b_data_is_404(safety, tokens) -> None:
    site_a = await create_site(safety, tokens, aud="safety_api")
    site_b = await create_site(safety, tokens, aud="safety_api")
    own = await _get_site(safety, tokens("site_staff", site=site_a), site_a)
    assert own.status_code == 200
    other = await _get_site(safety, tokens("site_staff", site=site_a), site_b)
    assert other.status_code == 404
    assert other.headers["content-type"] == PROBLEM
    missing = await _get_site(safety, tokens("site_staff", site=site_a), "nosuchsite")
    assert other.json()["detail"].replace(site_b, "X") == missing.json()["detail"].replace(
        "nosuchsite", "X"
    )


async def test_ehr_client_and_patient_of_site_a_cannot_read_site_b(safety, tokens) -> None:
    site_a = await create_site(safety, tokens, aud="safety_api")
    site_b = await create_site(safety, tokens, aud="safety_api")
    for token in (tokens("ehr_client", site=site_a), tokens("patient", site=site_a, pid="p1")):
        assert (await _get_site(safety, token, site_b)).status_code == 404


async def test_monitor_reads_every_site_but_cannot_write(safety, tokens) -> None:
    site = await create_site(safety, tokens, aud="safety_api")
    assert (await _get_site(safety, tokens("monitor"), site)).status_code == 200
    write = await safety.put(
        f"/v1/sites/{site}",
        json={"name": "x", "timezone": "UTC"},
        headers=tokens.headers("monitor"),
    )
    assert write.status_code == 403
    assert write.headers["content-type"] == PROBLEM


def _rsa_pem() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _ec_pem() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
async def rs_safety(client_for, database_urls, tmp_path):
    """safety_api configured like production: RS256 public key only, no HMAC secret."""
    private, public = _rsa_pem()
    (tmp_path / "public.pem").write_text(public)
    (tmp_path / "private.pem").write_text(private)
    settings = make_settings(
        database_urls,
        tmp_path,
        env="production",
        jwt_secret=None,
        jwt_public_keys_file=tmp_path / "public.pem",
        jwt_private_key_file=tmp_path / "private.pem",
    )
    client = await client_for("safety_api", app_settings=settings)
    return client, private, public


async def test_rs256_token_from_the_configured_key_is_accepted(rs_safety) -> None:
    client, private, _ = rs_safety
    token = raw_token(_claims(), private, "RS256")
    assert (await _get_site(client, token, "nosuchsite")).status_code == 404  # authenticated


async def test_hs256_token_signed_with_the_rs_public_key_is_401(rs_safety) -> None:
    client, _, public = rs_safety
    # Key confusion: an attacker signs HS256 using the (public) PEM as the HMAC secret.
    import hashlib
    import hmac

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + "."
        + b64(json.dumps(_claims(role="trial_admin")).encode())
    )
    signature = hmac.new(public.encode(), signing_input.encode(), hashlib.sha256).digest()
    _assert_401(
        await _get_site(client, f"{signing_input}.{b64(signature)}"), "'HS256' are not accepted"
    )


async def test_rs256_token_from_an_unknown_key_is_401(rs_safety) -> None:
    client, _, _ = rs_safety
    stranger, _ = _rsa_pem()
    _assert_401(await _get_site(client, raw_token(_claims(), stranger, "RS256")), "signature")


def test_es256_keys_from_a_jwks_file_verify(tmp_path) -> None:
    from jose import jwk

    private, public = _ec_pem()
    public_jwk = jwk.construct(public, "ES256").to_dict()
    public_jwk["kid"] = "k1"
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [public_jwk]}))
    (tmp_path / "private.pem").write_text(private)
    settings = make_settings(
        {"pro_api": "postgresql://x/y", "safety_api": "postgresql://x/y"},
        tmp_path,
        env="production",
        jwt_secret=None,
        jwt_public_keys_file=tmp_path / "jwks.json",
        jwt_private_key_file=tmp_path / "private.pem",
        jwt_private_key_id="k1",
    )
    service = TokenService.from_settings(settings)
    assert service.private_algorithm == "ES256"
    token = service.mint(role=Role.MONITOR, sub="m", audience="pro_api")
    principal = service.verify(token, "pro_api")
    assert principal.role is Role.MONITOR and principal.all_sites
