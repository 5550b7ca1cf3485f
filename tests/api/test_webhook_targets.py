"""Webhooks reach public addresses only (api/webhooks/targets.py): a URL whose host is loopback,
link-local (cloud metadata), private or otherwise not global is refused when it is registered (422)
and again at delivery (dead-lettered at once with the reason), unless the operator allows it."""

from __future__ import annotations

import time
from ipaddress import ip_address

import httpx
import pytest
import redis
from pydantic import ValidationError

from api.webhooks.delivery import WebhookDelivery
from api.webhooks.targets import TargetPolicy, TargetRefused, kind_of, parse_networks, resolve_checked
from tests.api.rest_support import AUTH, api_client, settings
from tests.api.webhook_receiver import receiver

REFUSED = {
    "127.0.0.1": "loopback",
    "::1": "loopback",
    "169.254.169.254": "link-local",  # the cloud metadata service
    "fe80::1": "link-local",
    "10.1.2.3": "private",
    "192.168.0.10": "private",
    "fd00::5": "private",
    "0.0.0.0": "unspecified",
    "100.64.0.1": "non-global",  # carrier-grade NAT
    "224.0.0.1": "multicast",
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 of 169.254.169.254
    "2002:a01:203::1": "private",  # 6to4 of 10.1.2.3
}


@pytest.mark.parametrize(("address", "kind"), REFUSED.items())
def test_non_global_addresses_are_refused_by_default(address: str, kind: str) -> None:
    assert kind_of(ip_address(address)).startswith(kind)
    assert kind in TargetPolicy().refusal(ip_address(address))
    assert TargetPolicy(allow_private=True).refusal(ip_address(address)) == ""


def test_global_addresses_pass_and_allowed_networks_open_exactly_themselves() -> None:
    policy = TargetPolicy(allowed_networks=parse_networks("10.20.0.0/16, fd00:1::/64"))
    for public in ("93.184.215.14", "2606:4700:4700::1111"):
        assert TargetPolicy().refusal(ip_address(public)) == ""
    assert policy.refusal(ip_address("10.20.7.1")) == ""
    assert policy.refusal(ip_address("::ffff:10.20.7.1")) == ""
    assert policy.refusal(ip_address("fd00:1::9")) == ""
    assert "private" in policy.refusal(ip_address("10.21.0.1"))
    assert "loopback" in policy.refusal(ip_address("127.0.0.1"))
    with pytest.raises(TargetRefused, match="loopback"):
        resolve_checked("localhost", 80, TargetPolicy())


def test_the_allowed_networks_setting_is_checked_at_start() -> None:
    with pytest.raises(ValidationError, match="not a network in CIDR form"):
        settings("redis://127.0.0.1:1/0", webhook_allowed_networks="10.0.0.0/8, 10.0.0.0/33")
    ok = settings("redis://127.0.0.1:1/0", webhook_allowed_networks="10.0.0.0/8")
    assert ok.webhook_targets().allowed_networks == parse_networks("10.0.0.0/8")
    assert settings("redis://127.0.0.1:1/0", webhook_allow_private=False).webhook_targets() == TargetPolicy()


async def _create(client: httpx.AsyncClient, url: str) -> httpx.Response:
    return await client.post("/v1/webhooks", json={"url": url, "events": ["alert.raised"]}, headers=AUTH)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:9/x", "loopback"),
        ("http://localhost:8080/hook", "loopback"),  # a name: judged by what it resolves to
        ("http://[::1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://10.1.2.3/hook", "private"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
async def test_a_subscription_to_a_non_public_target_is_refused(redis_url: str, url: str, says: str) -> None:
    async with api_client(redis_url, webhook_allow_private=False) as client:
        created = await _create(client, url)
        listed = await client.get("/v1/webhooks", headers=AUTH)
    assert created.status_code == 422, created.text
    assert created.headers["content-type"] == "application/problem+json"
    assert created.json()["detail"].startswith("url: ")
    assert says in created.json()["detail"]
    assert listed.json()["items"] == []


async def test_an_allowed_network_is_accepted_and_a_url_change_is_checked_too(redis_url: str) -> None:
    async with api_client(redis_url, webhook_allow_private=False, webhook_allowed_networks="10.0.0.0/8") as c:
        created = await _create(c, "https://10.1.2.3/hook")
        sid = created.json()["subscription_id"]
        moved = await c.patch(f"/v1/webhooks/{sid}", json={"url": "http://127.0.0.1:6379/"}, headers=AUTH)
        paused = await c.patch(f"/v1/webhooks/{sid}", json={"active": False}, headers=AUTH)
        after = await c.get(f"/v1/webhooks/{sid}", headers=AUTH)
    assert created.status_code == 201, created.text
    assert moved.status_code == 422
    assert "loopback" in moved.json()["detail"]
    assert paused.status_code == 200
    assert after.json()["url"] == "https://10.1.2.3/hook"


async def test_delivery_refuses_a_target_the_policy_no_longer_allows_and_dead_letters_it(
    redis_url: str,
) -> None:
    """Accepted at registration (allowed then), refused at delivery (as when DNS now answers
    127.0.0.1): nothing is sent, the delivery is dead-lettered at once with the reason."""
    with receiver() as rx:
        async with api_client(redis_url) as client:  # the test settings allow local receivers
            sid = (await _create(client, rx.url("/hook"))).json()["subscription_id"]
            assert (await client.post(f"/v1/webhooks/{sid}/ping", headers=AUTH)).status_code == 202
            r = redis.Redis.from_url(redis_url)
            worker = WebhookDelivery(r, base_delay_s=0.05, targets=TargetPolicy())  # the default policy
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                worker.run_once()
                stats = (await client.get(f"/v1/webhooks/{sid}", headers=AUTH)).json()["stats"]
                if stats["dead_lettered"]:
                    break
            r.close()
            letters = (await client.get(f"/v1/webhooks/{sid}/dead-letters", headers=AUTH)).json()["items"]
    assert rx.at("/hook") == []
    assert (stats["delivered"], stats["failed_attempts"], stats["dead_lettered"]) == (0, 1, 1)
    [letter] = letters
    assert letter["attempts"] == 1
    assert letter["last_status"] == 0
    assert letter["last_error"].startswith("refused: the host resolves to a loopback address")
