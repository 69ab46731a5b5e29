"""Activation codes and refresh tokens as values: how they are made, typed back and hashed.

An activation code is 10 characters of Crockford's base32 (https://www.crockford.com/base32.html):
no I, L, O or U, so nothing on the paper slip can be misread, shown as two groups of five. What
the patient types back is forgiving: any case, dashes and spaces ignored, and the letters
Crockford decodes as digits (O → 0, I and L → 1) accepted. 50 random bits, tried at most a few
times per client per quarter hour, is far beyond guessing.

Only SHA-256 hashes of codes and refresh tokens are stored.
"""

from __future__ import annotations

import hashlib
import secrets

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ACTIVATION_CODE_LENGTH = 10
GROUP_LENGTH = 5
REFRESH_TOKEN_BYTES = 32

_CROCKFORD_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = str.maketrans("", "", "- \t")


def new_activation_code() -> str:
    """A fresh code for people, e.g. ``7KQ2M-X9D4B``."""
    raw = "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(ACTIVATION_CODE_LENGTH))
    return f"{raw[:GROUP_LENGTH]}-{raw[GROUP_LENGTH:]}"


def normalise_activation_code(typed: str) -> str | None:
    """The canonical form of what a patient typed, or None if it cannot be a code at all."""
    canonical = typed.translate(_IGNORED).upper().translate(_CROCKFORD_ALIASES)
    if len(canonical) != ACTIVATION_CODE_LENGTH:
        return None
    if any(c not in CROCKFORD_ALPHABET for c in canonical):
        return None
    return canonical


def activation_code_hash(code: str) -> str:
    """Hash of a code as generated or typed (any accepted spelling gives the same hash)."""
    canonical = normalise_activation_code(code)
    if canonical is None:
        raise ValueError("not an activation code")
    return hash_secret(canonical)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(REFRESH_TOKEN_BYTES)


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
