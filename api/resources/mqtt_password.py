"""Gateway MQTT passwords in Mosquitto's password-file format (pure, standard library only).

Mosquitto 2.0 reads ``password_file`` lines ``<username>:$7$<iterations>$<salt>$<hash>``: PBKDF2
with HMAC-SHA512, a 12-byte random salt and a 64-byte derived key, salt and key in standard base64
(what ``mosquitto_passwd`` writes; its default is 101 iterations). We store only this line: the
service can hand Mosquitto the file, but cannot recover a password from it.

Gateway passwords are 256 random bits (``secrets.token_urlsafe(32)``), never chosen by a person, so
there is nothing to brute-force and the iteration count only has to match what Mosquitto accepts;
we use more than the default anyway, because the broker checks a password only at connect.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

ITERATIONS = 1000
SALT_BYTES = 12
KEY_BYTES = 64
_LINE = re.compile(r"^([^:\s]+):\$7\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")


def new_password() -> str:
    return secrets.token_urlsafe(32)


def hash_line(
    username: str, password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None
) -> str:
    """The password-file line for ``username`` (a gateway id: no `:` or whitespace)."""
    if ":" in username or not username or any(c.isspace() for c in username):
        raise ValueError("a Mosquitto username may not be empty or contain ':' or whitespace")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, KEY_BYTES)
    return f"{username}:$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def verify(line: str, username: str, password: str) -> bool:
    """Whether ``password`` is the one ``line`` was made from (as Mosquitto would decide)."""
    m = _LINE.match(line.strip())
    if m is None or m.group(1) != username:
        return False
    salt, expected = base64.b64decode(m.group(3)), base64.b64decode(m.group(4))
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, int(m.group(2)), len(expected))
    return hmac.compare_digest(key, expected)
