"""Rota apprise channels obey the webhook target policy (api/webhooks/targets.py): an apprise URL
naming a server (a `json://` or `form://` receiver, an SMS gateway, an SMTP server) that resolves to
a loopback, link-local or private address is refused when the rota is set (422, the URL never
echoed) unless the operator allows it, and again before every send; services on their provider's
own hosts (Slack, Telegram) are accepted without a DNS lookup; arguments that make apprise read
files or fetch URLs are never accepted; redirects are not followed."""

from __future__ import annotations

import sys
import threading
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from api.notify.delivery import NotificationDelivery
from tests.api.rest_support import AUTH, api_client
from tests.api.webhook_receiver import LOCAL_TARGETS, receiver
from tests.notify.support import T0, Clock, deliveries, enrol, pump, raise_alert, set_rota

SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#nurses"
TELEGRAM = "tgram://123456789:abcdefg_hijklmnop/12315544/"
TO = "to=north-1@example.nhs.uk&from=oxiward@example.nhs.uk"


class _Lookups:
    """Host names the process asks DNS for while watching, seen through the interpreter's audit
    events (PEP 578): the hook observes getaddrinfo, it does not replace it."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.watching = False
        self._lock = threading.Lock()
        sys.addaudithook(self._hook)  # stays for the process: a no-op while not watching

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.watching and event == "socket.getaddrinfo":
            with self._lock:
                self.hosts.append(str(args[0]))


LOOKUPS = _Lookups()


def _rota(url: str) -> dict[str, Any]:
    channel = {"kind": "apprise", "url": url}
    return {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [channel]}]}], "mqtt": None}


async def _put(redis_url: str, url: str, **settings: Any) -> Any:
    async with api_client(redis_url, **settings) as client:
        return await client.put("/v1/wards/north-1/rota", json=_rota(url), headers=AUTH)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("json://oxi:secret-1@127.0.0.1:8080/hook", "loopback"),
        ("json://[::1]:8080/secret-2", "loopback"),
        ("form://10.0.0.5/form?token=secret-3", "private"),
        ("smseagle://secret-4-token@169.254.169.254/+447700900123", "link-local"),
        (f"mailtos://nurse:secret-5-pw@example.nhs.uk/?smtp=10.0.0.7&{TO}", "private"),
    ],
)
async def test_an_apprise_url_naming_a_non_public_server_is_refused(
    redis_url: str, url: str, kind: str
) -> None:
    async with api_client(redis_url, webhook_allow_private=False) as client:
        put = await client.put("/v1/wards/north-1/rota", json=_rota(url), headers=AUTH)
        get = await client.get("/v1/wards/north-1/rota", headers=AUTH)
    assert put.status_code == 422, put.text
    assert put.headers["content-type"] == "application/problem+json"
    assert put.json()["detail"].startswith(
        f"tiers[0].recipients[0].channels[0].url: the host resolves to a {kind}"
    )
    assert "secret-" not in put.text
    assert get.json()["version"] == 0  # nothing stored


async def test_the_explicit_allowance_accepts_them(redis_url: str) -> None:
    network = {"webhook_allow_private": False, "webhook_allowed_networks": "10.0.0.0/8"}
    assert (await _put(redis_url, "form://10.0.0.5/form", **network)).status_code == 200
    assert (
        await _put(redis_url, f"mailtos://nurse:pw@example.nhs.uk/?smtp=10.0.0.7&{TO}", **network)
    ).status_code == 200
    local = {"webhook_allow_private": True}
    assert (await _put(redis_url, "json://127.0.0.1:8080/hook", **local)).status_code == 200
    assert (
        await _put(redis_url, "smseagle://token@169.254.169.254/+447700900123", **local)
    ).status_code == 200


@pytest.mark.parametrize("url", [SLACK, TELEGRAM])
async def test_a_service_on_its_providers_hosts_is_accepted_without_a_dns_lookup(
    redis_url: str, url: str
) -> None:
    """apprise keeps the URL's first part as `host` (here a Slack team or Telegram bot id): not a
    server, so nothing is looked up (a lookup of it could not succeed: the PUT would be refused)."""
    redis_host = urlsplit(redis_url).hostname
    LOOKUPS.hosts.clear()
    LOOKUPS.watching = True
    try:
        put = await _put(redis_url, url, webhook_allow_private=False)
    finally:
        LOOKUPS.watching = False
    assert put.status_code == 200, put.text
    assert set(LOOKUPS.hosts) <= {redis_host}  # the store only


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize(
    "url",
    [f"{SLACK}?template=/etc/hostname", f"{TELEGRAM}?Template=http://169.254.169.254/latest/meta-data/"],
)
async def test_arguments_that_read_files_or_fetch_urls_are_refused_whatever_the_policy(
    redis_url: str, url: str, allow_private: bool
) -> None:
    put = await _put(redis_url, url, webhook_allow_private=allow_private)
    assert put.status_code == 422, put.text
    assert "read a file or fetch a URL on the server (template)" in put.json()["detail"]
    assert "hostname" not in put.text
    assert "meta-data" not in put.text


async def test_services_that_learn_their_hosts_as_they_send_are_refused(redis_url: str) -> None:
    strict = {"webhook_allow_private": False, "webhook_allowed_networks": "10.0.0.0/8"}
    bluesky = await _put(redis_url, "bluesky://nurse.example.nhs.uk@app-password", **strict)
    matrix = await _put(redis_url, "matrix://nurse:pw@10.0.0.9/!room:example.nhs.uk", **strict)
    checked = await _put(redis_url, "matrix://nurse:pw@10.0.0.9/!room:example.nhs.uk?discovery=no", **strict)
    assert bluesky.status_code == 422
    assert "learns only as it sends" in bluesky.json()["detail"]
    assert matrix.status_code == 422
    assert "add discovery=no" in matrix.json()["detail"]
    assert checked.status_code == 200, checked.text  # its one server is named, and allowed


def test_a_send_to_a_server_the_policy_refuses_sends_nothing_and_says_why(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    with receiver() as gateway:
        # As stored before the policy, or before the gateway's name came to resolve to 127.0.0.1.
        set_rota(r, _rota(f"smseagle://secret-token@127.0.0.1:{gateway.port}/+447700900123"))
        alert_id = raise_alert(r, "p1", T0)
        worker = NotificationDelivery(r, clock=Clock(T0), base_delay_s=0.05)  # the default policy
        pump(worker, lambda: any(d.get("attempts") == "1" for d in deliveries(r, alert_id)))
        sent = list(gateway.received)
    [delivery] = deliveries(r, alert_id)
    assert sent == []
    assert delivery["status"] in ("retrying", "dead-lettered")
    assert delivery["last_error"].startswith("refused: the host resolves to a loopback address")
    assert "secret-token" not in delivery["last_error"]


def test_a_stored_url_that_reads_files_is_never_sent(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    set_rota(r, _rota(f"{SLACK}?template=/etc/hostname"))  # as stored before the check
    alert_id = raise_alert(r, "p1", T0)
    worker = NotificationDelivery(r, clock=Clock(T0), base_delay_s=0.05, targets=LOCAL_TARGETS)
    pump(worker, lambda: any(d.get("attempts") == "1" for d in deliveries(r, alert_id)))
    [delivery] = deliveries(r, alert_id)
    assert delivery["last_error"].startswith("refused: apprise arguments that read a file")


def test_a_redirect_is_not_followed(redis_url: str) -> None:
    """A server the policy allows cannot bounce the message to one nobody checked."""
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    with receiver() as rx:
        rx.scripts["/moved"] = [307]  # 307 keeps the POST and its body
        rx.reply_headers["/moved"] = {"Location": rx.url("/inner")}
        set_rota(r, _rota(f"json://127.0.0.1:{rx.port}/moved"))
        alert_id = raise_alert(r, "p1", T0)
        worker = NotificationDelivery(r, clock=Clock(T0), base_delay_s=0.05, targets=LOCAL_TARGETS)
        pump(worker, lambda: any(d.get("attempts") == "1" for d in deliveries(r, alert_id)))
        moved, inner = rx.at("/moved"), rx.at("/inner")
    [delivery] = deliveries(r, alert_id)
    assert len(moved) == 1
    assert inner == []
    assert delivery["status"] == "retrying"
    assert delivery["last_error"].startswith("apprise could not send")
