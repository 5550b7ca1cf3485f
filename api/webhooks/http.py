"""One webhook POST over http.client (standard library): no redirects, a hard timeout, bounded read,
and only to addresses the target policy allows (api/webhooks/targets.py).

Redirects are not followed: a signed body must reach the URL the integrator registered, not one
a server points us to (and a redirect could lead past the target policy). The host name is
resolved once, every address checked, and the connection made to a checked address (TLS still
verifies the certificate against the name): a DNS answer that changes between check and connect
cannot slip a private address in. The answer's body is read (at most MAX_READ bytes) only to free
the connection; it is never stored or logged.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

from api.webhooks.targets import Address, TargetPolicy, resolve_checked

MAX_READ = 64 * 1024
USER_AGENT = "Oxiward-Webhooks/1"


def _connect(addresses: Sequence[Address], port: int, timeout: float | None) -> socket.socket:
    failure: OSError = OSError("the host has no address")
    for address in addresses:
        try:
            return socket.create_connection((str(address), port), timeout)
        except OSError as exc:
            failure = exc
    raise failure


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, addresses: Sequence[Address], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: Sequence[Address], timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._addresses = addresses

    def connect(self) -> None:
        raw = _connect(self._addresses, self.port, self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def post(
    url: str, body: bytes, headers: dict[str, str], timeout_s: float, targets: TargetPolicy
) -> tuple[int, str]:
    """(HTTP status, error text); status 0 when no response came (refused, timeout, TLS, DNS).

    Raises TargetRefused, without connecting, when the host resolves to an address ``targets``
    does not allow.
    """
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host, port = parts.hostname or "", parts.port or (443 if https else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        addresses = resolve_checked(host, port, targets)
    except OSError as exc:  # socket.gaierror: the name does not resolve (now)
        return 0, f"connection failed: {type(exc).__name__}"
    pinned = _PinnedHTTPS if https else _PinnedHTTP
    conn = pinned(host, port, addresses, timeout_s)
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
