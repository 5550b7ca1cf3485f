"""One webhook POST over http.client (standard library): no redirects, a hard timeout, bounded read.

Redirects are not followed: a signed body must reach the URL the integrator registered, not one
a server points us to. The answer's body is read (at most MAX_READ bytes) only to free the
connection; it is never stored or logged.
"""

from __future__ import annotations

import http.client
import ssl
from urllib.parse import urlsplit

MAX_READ = 64 * 1024
USER_AGENT = "Oxiward-Webhooks/1"


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> tuple[int, str]:
    """(HTTP status, error text); status 0 when no response came (refused, timeout, TLS, DNS)."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout_s, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout_s)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        response = conn.getresponse()
        response.read(MAX_READ)
        status = response.status
        return status, "" if 200 <= status < 300 else f"HTTP {status}"
    except TimeoutError:
        return 0, f"no answer within {timeout_s:g} s"
    except (OSError, http.client.HTTPException) as exc:
        return 0, f"connection failed: {type(exc).__name__}"
    finally:
        conn.close()
