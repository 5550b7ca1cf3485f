"""Sending one message on one channel. Webhooks reuse api/webhooks (the signature and the POST);
SMS, e-mail, Teams, Slack and the rest go through apprise, the one module here that imports it.

Every send answers (status, error): `delivered` when the far end confirmed (HTTP 2xx), `sent` when
the channel accepted it but cannot tell more (apprise), `failed` otherwise.
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings

import apprise

from api.notify.rota import Channel, ChannelKind
from api.webhooks.http import post
from api.webhooks.signing import HEADER, header_value
from api.webhooks.targets import TargetPolicy, TargetRefused

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


def send_apprise(channel: Channel, title: str, body: str) -> tuple[str, str]:
    sender = apprise.Apprise()
    if not sender.add(channel.url):
        return FAILED, "apprise refused the URL"
    ok = sender.notify(title=title, body=body)
    return (SENT, "") if ok else (FAILED, "apprise could not send (see its log; the URL is masked there)")
