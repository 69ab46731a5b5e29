"""Standard Webhooks 1.0, the one way both services sign what they send to sites.

Headers: ``webhook-id`` (the outbox message id, stable across retries), ``webhook-timestamp``
(unix seconds of this attempt) and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 over
``id.timestamp.body``), computed by the ``standardwebhooks`` package. Secrets are ``whsec_`` +
base64 of 24 to 64 random bytes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from pydantic import AfterValidator, Field
from standardwebhooks.webhooks import Webhook

from services.common.db import utcnow

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format prefix, not a secret)


def signed_headers(secret: str, message_id: str, body: str) -> dict[str, str]:
    timestamp = utcnow()
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }


def _valid_secret(value: str) -> str:
    try:
        key = base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not value.startswith(SECRET_PREFIX) or not 24 <= len(key) <= 64:
        raise ValueError(
            "use a Standard Webhooks secret: 'whsec_' followed by 24 to 64 random bytes in "
            'base64 (for example from `python -c "import base64, os; '
            "print('whsec_' + base64.b64encode(os.urandom(32)).decode())\"`)"
        )
    return value


WebhookSecret = Annotated[
    str,
    AfterValidator(_valid_secret),
    Field(description="Standard Webhooks secret: 'whsec_' + base64 (24-64 bytes)"),
]
