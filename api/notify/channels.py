"""Sending one message on one channel. Webhooks reuse api/webhooks (the signature and the POST);
SMS, e-mail, Teams, Slack and the rest go through apprise, the one module here that imports it.

Every send answers (status, error): `delivered` when the far end confirmed (HTTP 2xx), `sent` when
the channel accepted it but cannot tell more (apprise), `failed` otherwise.

Apprise URLs obey the webhook target policy (api/webhooks/targets.py) too: a URL may name the host
apprise connects to (`json://`, `smseagle://`, an e-mail's SMTP server, ...), and a rota's author
must not reach the service's neighbours through it. `apprise_hosts` says which hosts those are,
read from apprise's own parse of the URL; the rota is refused when one of them resolves somewhere
the policy forbids (api/notify/rota_targets.py), and `send_apprise` checks again before every send.
Apprise then resolves and connects by itself, so unlike a webhook the checked address cannot be
pinned: a name whose DNS answer changes between the check and apprise's connection (DNS
rebinding) slips through. Redirects are not followed, so a public host cannot bounce the message on.
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from typing import Any

import apprise

from api.notify.rota import Channel, ChannelKind
from api.webhooks.http import post
from api.webhooks.signing import HEADER, header_value
from api.webhooks.targets import TargetPolicy, TargetRefused, resolve_checked

DELIVERED, SENT, FAILED = "delivered", "sent", "failed"

# apprise's e-mail plugin imports the stdlib `imghdr`, deprecated in 3.11 (removed in 3.13, where
# apprise ships a shim): import it once here, quietly, so loading the plugins warns nobody.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import imghdr  # noqa: F401


def apprise_redacted(url: str) -> str:
    """The URL with its credentials masked, or '' when apprise cannot send to it."""
    plugin = apprise.Apprise.instantiate(url)
    return "" if plugin is None else str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]


#: Arguments with which apprise reads a file or fetches a URL on the server when it sends (Slack,
#: Discord, Telegram and Workflows payload templates; FCM and web-push key and subscription files;
#: PGP key paths and web key directory look-ups): never accepted, whatever the target policy.
_FETCHING_ARGS = ("template", "keyfile", "subfile", "pgppub", "pgpprv", "wkd")
#: Services that connect to hosts they learn only as they send (BlueSky's identity documents, Nostr
#: relays, web-push subscriptions, XMPP's SRV records): the policy cannot check them beforehand.
_LEARNS_HOSTS = frozenset({"bsky", "bluesky", "nostr", "vapid", "xmpp", "xmpps"})
#: Services whose URL `{host}` is a mail domain or an id, not a server: they post to their provider.
_HOST_NOT_SERVER = frozenset({"mailgun", "sparkpost", "sendpulse", "smtp2go", "wechat"})


class AppriseRefused(Exception):
    """The URL makes apprise read a file or fetch a URL on the server: never sent."""


class HostsUnknown(Exception):
    """The service learns the hosts it connects to only as it sends: refused unless the policy
    allows every address."""


def apprise_hosts(url: str) -> tuple[str, ...]:
    """The hosts apprise connects to for the URL, as the URL names them; () for a service on its
    provider's own hosts (Slack, Telegram, Discord, ...) or a URL apprise cannot send to. Raises
    AppriseRefused or HostsUnknown (their messages never repeat the URL)."""
    plugin = apprise.Apprise.instantiate(url)
    return () if plugin is None else _hosts(plugin, url)


def _hosts(plugin: Any, url: str) -> tuple[str, ...]:
    # Which plugins name their server where was read in apprise 2.3.0's plugins; the general rule
    # is apprise's published URL templates (`Apprise().details()`): `{host}` in one means the URL
    # names the server the plugin connects to.
    schema = url.partition("://")[0].lower()
    fetching = sorted(set(_FETCHING_ARGS) & set((type(plugin).parse_url(url) or {}).get("qsd") or {}))
    if fetching:
        raise AppriseRefused(
            f"apprise arguments that read a file or fetch a URL on the server ({', '.join(fetching)}) "
            "are not accepted"
        )
    if schema in _LEARNS_HOSTS:
        raise HostsUnknown(
            f"apprise's {schema}:// service connects to hosts it learns only as it sends, which the "
            "target policy cannot check"
        )
    if schema in ("matrix", "matrixs") and getattr(plugin, "discovery", False):
        raise HostsUnknown(
            "a Matrix server may name another homeserver when asked (discovery), which the target "
            "policy cannot check: add discovery=no to the URL"
        )
    smtp_host = getattr(plugin, "smtp_host", None)
    if isinstance(smtp_host, str):  # e-mail, Delta Chat: ?smtp=, else the provider's server, else the host
        host = smtp_host
    elif schema == "acs":  # Azure Communication Services: the resource's endpoint
        host = str(plugin.endpoint)
    elif schema == "zulip":  # an organisation on zulipchat.com, or on the server it names
        own = plugin.hostname != type(plugin).default_hostname
        host = f"{plugin.organization}.{plugin.hostname}" if own else ""
    elif schema in _HOST_NOT_SERVER or not any("{host}" in t for t in type(plugin).templates):
        host = ""
    else:
        host = str(plugin.host or "")  # empty: the plugin's default public service (ntfy.sh)
    host = host.strip().strip("[]")  # an IPv6 literal as apprise keeps it: [::1]
    return (host,) if host else ()


def _reach_refusal(plugin: Any, url: str, targets: TargetPolicy) -> str:
    """Why the message may not be handed to apprise now ('' when it may), resolving the hosts."""
    try:
        hosts = _hosts(plugin, url)
    except AppriseRefused as exc:
        return f"refused: {exc}"
    except HostsUnknown as exc:
        return "" if targets.allow_private else f"refused: {exc}"
    if targets.allow_private:
        return ""
    try:
        for host in hosts:
            resolve_checked(host, 0, targets)
    except TargetRefused as exc:
        return f"refused: {exc}"
    except OSError as exc:  # socket.gaierror: the name does not resolve (now)
        return f"connection failed: {type(exc).__name__}"
    return ""


def redact(channel: Channel) -> str:
    if channel.kind is ChannelKind.APPRISE:
        return apprise_redacted(channel.url) or "(invalid)"
    # A webhook URL may carry a token in its path or query: show where it goes, not the rest.
    scheme, _, rest = channel.url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/…"


def send_webhook(
    channel: Channel,
    payload: dict[str, object],
    delivery_id: str,
    attempt: int,
    timeout_s: float,
    targets: TargetPolicy,
) -> tuple[str, str]:
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    headers = {
        HEADER: header_value(channel.secret, int(time.time()), body),
        "Oxiward-Event": str(payload.get("type", "")),
        "Oxiward-Delivery": delivery_id,
        "Oxiward-Delivery-Attempt": str(attempt),
    }
    try:
        status, error = post(channel.url, body, headers, timeout_s, targets)
    except TargetRefused as exc:  # the host now resolves somewhere webhooks may not go
        return FAILED, f"refused: {exc}"
    return (DELIVERED, "") if 200 <= status < 300 else (FAILED, error)


def send_apprise(channel: Channel, title: str, body: str, targets: TargetPolicy) -> tuple[str, str]:
    plugin = apprise.Apprise.instantiate(channel.url)
    if plugin is None:
        return FAILED, "apprise refused the URL"
    refusal = _reach_refusal(plugin, channel.url, targets)
    if refusal:  # the rota was set before the policy, or a name now resolves somewhere forbidden
        return FAILED, refusal
    plugin.redirects = False  # a redirect would reach a host nobody checked (nor do webhooks follow them)
    sender = apprise.Apprise()
    sender.add(plugin)
    ok = sender.notify(title=title, body=body)
    return (SENT, "") if ok else (FAILED, "apprise could not send (see its log; the URL is masked there)")
