"""Webhook signatures: HMAC-SHA256 over ``<timestamp>.<body>`` (pure, standard library only).

Header ``Oxiward-Signature: t=<unix seconds>,v1=<hex digest>``. The timestamp is signed with the
body, so a captured request cannot be replayed later: receivers check the signature *and* that
``t`` is recent (``TOLERANCE_S``). During a secret rotation a header may carry several ``v1=``
values; any one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Oxiward-Signature"
TOLERANCE_S = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def header_value(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={digest(secret, timestamp, body)}"


def verify(header: str, secret: str, body: bytes, now: float, tolerance_s: int = TOLERANCE_S) -> bool:
    """What a receiver does: parse the header, check the age, compare in constant time."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance_s:
        return False
    expected = digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)
