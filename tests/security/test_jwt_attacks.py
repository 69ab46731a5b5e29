"""JWT attacks beyond tests/common/test_auth.py: key confusion against a JWKS, kid injection,
unknown critical headers, 'none' in any capitalisation, malformed claims, oversized tokens and
tokens not yet valid. Each is a 401 problem document."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk

from tests.conftest import make_settings
from tests.support.tokens import ISSUER, TEST_SECRET, raw_token

PROBLEM = "application/problem+json"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {
        "iss": ISSUER,
        "aud": "safety_api",
        "sub": "attacker",
        "role": "trial_admin",
        "iat": now,
        "exp": now + 600,
        "jti": "j-attack",
    }
    claims.update(overrides)
    return claims


def _hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


async def _assert_401(client: Any, token: str) -> None:
    response = await client.get("/v1/sites/101", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.fixture
async def jwks_safety(client_for, database_urls, tmp_path):
    """safety_api verifying RS256 against a JWKS with one key (kid "k1"), no HMAC secret."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    public_jwk = jwk.construct(public, "RS256").to_dict()
    public_jwk["kid"] = "k1"
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [public_jwk]}))
    settings = make_settings(
        database_urls,
        tmp_path,
        env="production",
        jwt_secret=None,
        jwt_public_keys_file=tmp_path / "jwks.json",
    )
    client = await client_for("safety_api", app_settings=settings)
    return client, private, public, public_jwk


async def test_the_jwks_accepts_its_own_key(jwks_safety) -> None:
    client, private, _, _ = jwks_safety
    from jose import jwt

    token = jwt.encode(_claims(), private, algorithm="RS256", headers={"kid": "k1"})
    response = await client.get("/v1/sites/nosuch", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404  # authenticated; the site does not exist


@pytest.mark.parametrize("as_secret", ["pem", "jwk-json", "modulus"])
async def test_hs256_signed_with_the_jwks_public_key_is_401(jwks_safety, as_secret) -> None:
    client, _, public, public_jwk = jwks_safety
    secret = {
        "pem": public.encode(),
        "jwk-json": json.dumps(public_jwk).encode(),
        "modulus": public_jwk["n"].encode(),
    }[as_secret]
    await _assert_401(client, _hs256({"alg": "HS256", "kid": "k1"}, _claims(), secret))


@pytest.mark.parametrize(
    "kid", ["../../../../dev/null", "/etc/passwd", "k1' OR '1'='1", "unknown", "", "k1\x00"]
)
async def test_a_kid_the_service_does_not_hold_is_401(jwks_safety, kid) -> None:
    client, _, _, _ = jwks_safety
    from jose import jwt

    # Signed by a stranger's key, pointing the kid somewhere else.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = stranger.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    await _assert_401(client, jwt.encode(_claims(), pem, algorithm="RS256", headers={"kid": kid}))


async def test_a_kid_pointing_at_a_file_does_not_make_an_empty_hmac_key(safety) -> None:
    # The classic: kid=/dev/null and an HMAC over the empty string.
    await _assert_401(
        safety, _hs256({"alg": "HS256", "kid": "../../../../dev/null"}, _claims(), b"")
    )


async def test_an_unknown_critical_header_is_401(safety) -> None:
    header = {"alg": "HS256", "typ": "JWT", "crit": ["urn:example:must-understand"]}
    token = _hs256(header, _claims(), TEST_SECRET.encode())
    await _assert_401(safety, token)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_in_any_capitalisation_is_401(safety, alg) -> None:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    await _assert_401(safety, f"{header}.{_b64(json.dumps(_claims()).encode())}.")


async def test_exp_as_a_string_is_401(safety) -> None:
    far = str(int(dt.datetime.now(dt.UTC).timestamp()) + 3600)
    await _assert_401(safety, raw_token(_claims(exp=far), TEST_SECRET))


async def test_exp_as_a_date_text_is_401(safety) -> None:
    await _assert_401(safety, raw_token(_claims(exp="2099-01-01T00:00:00Z"), TEST_SECRET))


async def test_a_very_long_token_is_401(safety) -> None:
    await _assert_401(safety, raw_token(_claims(padding="x" * 200_000), TEST_SECRET))


async def test_a_token_not_valid_before_a_future_time_is_401(safety) -> None:
    # python-jose checks nbf whenever it is present; our tokens never carry it.
    later = int(dt.datetime.now(dt.UTC).timestamp()) + 3600
    await _assert_401(safety, raw_token(_claims(nbf=later), TEST_SECRET))


async def test_a_token_issued_in_the_future_is_401(safety) -> None:
    later = int(dt.datetime.now(dt.UTC).timestamp()) + 3600
    await _assert_401(safety, raw_token(_claims(iat=later, exp=later + 600), TEST_SECRET))


async def test_a_token_with_two_audiences_one_ours_is_accepted_only_for_ours(safety) -> None:
    token = raw_token(_claims(aud=["pro_api", "safety_api"]), TEST_SECRET)
    response = await safety.get("/v1/sites/nosuch", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
    await _assert_401(safety, raw_token(_claims(aud=["pro_api", "elsewhere"]), TEST_SECRET))
