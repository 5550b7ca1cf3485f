"""Where webhooks may be sent: the policy against server-side request forgery (SSRF).

A webhook URL is chosen by a caller of the API (an integrator's subscription, a rota's webhook
channel) and the service POSTs to it from inside the hospital's network. Without a policy, a
caller could make the service call its neighbours: Redis, the broker, an admin console on
localhost, the cloud metadata service at 169.254.169.254. So a target must resolve only to
global unicast addresses, unless the operator allows more:

- ``OXIWARD_API_WEBHOOK_ALLOWED_NETWORKS``: CIDRs allowed although not global (e.g. the trust's
  EPR subnet, ``10.20.0.0/16``);
- ``OXIWARD_API_WEBHOOK_ALLOW_PRIVATE=true``: any address (development; tests with receivers on
  127.0.0.1). Never in production.

A URL is checked when it is registered (a 422 saying why) and again at every delivery, on the
addresses the connection then uses: DNS can change, and a name that was public when registered
may point at 127.0.0.1 now. Delivery connects to an address it has just checked, never resolving
the name a second time (api/webhooks/http.py). An IPv6 address that carries an IPv4 one
(mapped, 6to4, NAT64) is judged by the IPv4 address it leads to.

A rota's apprise channels (SMS gateways, SMTP servers, ... named in their URLs) obey the same
policy: api/notify/channels.py finds their hosts; apprise connects by itself, so there the checked
address cannot be pinned.

Standard library only (ipaddress, socket).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any
from urllib.parse import urlsplit

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

_NAT64 = ip_network("64:ff9b::/96")
#: How long a registration waits for DNS before refusing the URL.
RESOLVE_TIMEOUT_S = 5.0


class TargetRefused(Exception):
    """The host resolves to an address the policy does not allow; the message says which kind."""


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs (``10.20.0.0/16, fd00:1::/64``); ValueError naming a bad one."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not a network in CIDR form (e.g. 10.20.0.0/16)") from exc
    return tuple(networks)


def _carried_v4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def kind_of(address: Address) -> str:
    """'' for a global unicast address; otherwise what kind of address it is, in words."""
    if isinstance(address, IPv6Address):
        inner = _carried_v4(address)
        if inner is not None and kind_of(inner):
            return kind_of(inner)
    for kind, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local (where cloud metadata services answer)", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return kind
    return "" if address.is_global else "non-global (shared or special-purpose)"


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """Which addresses webhooks may reach. The default allows global unicast addresses only."""

    allow_private: bool = False
    allowed_networks: tuple[Network, ...] = ()

    def refusal(self, address: Address) -> str:
        """'' if a webhook may connect to the address; else the refusal, in words."""
        if self.allow_private:
            return ""
        judged = address
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            judged = address.ipv4_mapped
        if any(judged in network for network in self.allowed_networks):
            return ""
        kind = kind_of(address)
        if not kind:
            return ""
        return (
            f"the host resolves to a {kind} address, which webhooks may not target "
            "(an operator can allow its network with OXIWARD_API_WEBHOOK_ALLOWED_NETWORKS)"
        )

    def check(self, addresses: list[Address]) -> None:
        """TargetRefused unless every address is allowed (one bad answer taints the name)."""
        for address in addresses:
            reason = self.refusal(address)
            if reason:
                raise TargetRefused(reason)


def _addresses(infos: Sequence[tuple[Any, ...]]) -> list[Address]:
    """The distinct addresses of getaddrinfo's answer, in its order (the order to try them in)."""
    found: list[Address] = []
    for info in infos:
        address = ip_address(str(info[4][0]))
        if address not in found:
            found.append(address)
    return found


def resolve_checked(host: str, port: int, policy: TargetPolicy) -> list[Address]:
    """The host's addresses, all allowed by the policy (TargetRefused otherwise); OSError when
    the name does not resolve. Blocking: for the delivery threads."""
    addresses = _addresses(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    policy.check(addresses)
    return addresses


async def url_refusal(url: str, policy: TargetPolicy) -> str:
    """Why the policy refuses the URL ('' if it may be used): for the API, when a URL is given."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return await host_refusal(parts.hostname or "", port, policy)


async def host_refusal(host: str, port: int, policy: TargetPolicy) -> str:
    """Why the policy refuses connecting to the host ('' if it may): for the API, when a target is
    given (a webhook URL's host; the hosts an apprise URL names, api/notify/channels.py)."""
    if policy.allow_private:
        return ""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError):
        return "the host name does not resolve; webhook targets are checked when they are registered"
    try:
        policy.check(_addresses(infos))
    except TargetRefused as exc:
        return str(exc)
    return ""
