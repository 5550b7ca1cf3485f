"""Credentials at rest: API keys (sha256) and user passwords (scrypt). Pure functions, no I/O.

API keys look like ``oxw_<16 hex id>_<43 url-safe chars>``: the id says which key it is (so it can
be found, listed and revoked without the secret), the secret is 256 random bits. Only
``sha256(secret)`` is stored. A fast hash is enough *for these keys*: with 256 bits of entropy
there is nothing to brute-force, so a slow KDF would only cost CPU on every request that presents
a key. Passwords are chosen by people and guessable, so they get scrypt, a memory-hard KDF.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import cache

API_KEY_PREFIX = "oxw_"
_API_KEY = re.compile(r"^oxw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")

#: scrypt cost: N = 2^15, r = 8, p = 1 needs 32 MiB and about a third of a second on this 2-core
#: machine per password check. Each hash records its own parameters, so they can be raised later
#: (verify_password reports when a stored hash is weaker than these and should be replaced).
SCRYPT_LOG2_N = 15
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32
#: Passwords: long enough to resist guessing, short enough that a huge body cannot cost much.
PASSWORD_MIN = 12
PASSWORD_MAX = 256


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    secret: str

    @property
    def token(self) -> str:
        """The full key, shown to the administrator once and never stored."""
        return f"{API_KEY_PREFIX}{self.key_id}_{self.secret}"


def new_api_key() -> ApiKey:
    return ApiKey(secrets.token_hex(8), secrets.token_urlsafe(32))


def parse_api_key(presented: str) -> ApiKey | None:
    """The key's parts if it has the key format (not that it is valid), else None."""
    m = _API_KEY.fullmatch(presented)
    return None if m is None else ApiKey(m.group(1), m.group(2))


def looks_like_api_key(presented: str) -> bool:
    return presented.startswith(API_KEY_PREFIX)


def hash_api_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def api_secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_secret(secret), stored_hash)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    # maxmem: scrypt needs 128 * r * N bytes; allow twice that.
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + (1 << 20), dklen=_HASH_BYTES
    )


def hash_password(password: str) -> str:
    """``scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>``."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_LOG2_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches; False for a mismatch or a malformed stored value."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
    except ValueError:
        return False
    if not (10 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16):
        return False  # refuse parameters that could exhaust memory or CPU
    return hmac.compare_digest(_scrypt(password, salt, log2_n, r, p), expected)


@cache
def dummy_password_hash() -> str:
    """Verified against when the username does not exist, so an unknown user takes as long as a
    wrong password and timing does not reveal which usernames exist. Made on first use: import
    stays cheap."""
    return hash_password(secrets.token_urlsafe(16))
