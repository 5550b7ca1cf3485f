"""Rota webhook channels obey the webhook target policy (api/webhooks/targets.py): a loopback,
link-local or private target is refused when the rota is set (422) and again when a notification
is delivered (nothing sent; the delivery records why)."""

from __future__ import annotations

import redis

from api.notify.delivery import NotificationDelivery
from tests.api.rest_support import AUTH, api_client
from tests.api.webhook_receiver import receiver
from tests.notify.support import SECRET, T0, Clock, deliveries, enrol, pump, raise_alert, set_rota, webhook


def _rota(url: str) -> dict[str, object]:
    hook = {"kind": "webhook", "url": url, "secret": SECRET}
    return {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [hook]}]}], "mqtt": None}


async def test_a_rota_webhook_to_a_non_public_target_is_refused(redis_url: str) -> None:
    url = "http://169.254.169.254/latest/meta-data/?token=url-secret-7"
    async with api_client(redis_url, webhook_allow_private=False) as client:
        put = await client.put("/v1/wards/north-1/rota", json=_rota(url), headers=AUTH)
        get = await client.get("/v1/wards/north-1/rota", headers=AUTH)
    assert put.status_code == 422, put.text
    assert put.headers["content-type"] == "application/problem+json"
    detail = put.json()["detail"]
    assert detail.startswith("tiers[0].recipients[0].channels[0].url: the host resolves to a link-local")
    assert "url-secret-7" not in put.text
    assert get.json()["version"] == 0  # nothing stored


async def test_a_rota_webhook_to_an_allowed_network_is_accepted(redis_url: str) -> None:
    async with api_client(
        redis_url, webhook_allow_private=False, webhook_allowed_networks="10.20.0.0/16"
    ) as c:
        put = await c.put("/v1/wards/north-1/rota", json=_rota("https://10.20.0.7/page"), headers=AUTH)
    assert put.status_code == 200, put.text


def test_delivery_to_a_target_the_policy_refuses_sends_nothing_and_says_why(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    with receiver() as rx:
        # As stored before the policy, or before the name's DNS answer changed to 127.0.0.1.
        set_rota(
            r, {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [webhook(rx.url("/page"))]}]}]}
        )
        alert_id = raise_alert(r, "p1", T0)
        worker = NotificationDelivery(r, clock=Clock(T0), base_delay_s=0.05)  # the default policy
        pump(worker, lambda: any(d.get("attempts") == "1" for d in deliveries(r, alert_id)))
        sent = rx.at("/page")
    [delivery] = [d for d in deliveries(r, alert_id) if d["channel"] == "webhook"]
    assert sent == []
    assert delivery["status"] in ("retrying", "dead-lettered")
    assert delivery["last_error"].startswith("refused: the host resolves to a loopback address")
