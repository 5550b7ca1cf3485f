"""SMS through apprise to a real local SMS gateway: apprise's SMSEagle plugin (a hardware/self-hosted
gateway, so its host is configurable) posting its JSON-RPC to a local HTTP receiver. The message is
what an SMS may carry at the default privacy (no name, no NHS number, no patient id: the ward-local
reference and the priority), and its delivery is recorded -- sent, or failed and retried."""

from __future__ import annotations

import json

import redis

from api.notify import keys as nkeys
from api.notify.delivery import NotificationDelivery
from tests.api.webhook_receiver import LOCAL_TARGETS, receiver
from tests.notify.support import T0, Clock, deliveries, enrol, first_status, pump, raise_alert, set_rota

NHS = "9434765919"
PHONE = "+447700900123"  # Ofcom's drama range: never a real number
TOKEN = "gateway0token0123456789"
SMS_PATH = "/jsonrpc/sms"
#: What an SMSEagle gateway answers when it has queued the message.
QUEUED = b'{"result":{"message_id":"4753","status":"ok"}}'


def sms_url(port: int) -> str:
    """A gateway on 127.0.0.1, which the default target policy refuses: workers get LOCAL_TARGETS."""
    return f"smseagle://{TOKEN}@127.0.0.1:{port}/{PHONE}"


def test_an_sms_carries_only_the_ward_reference_and_priority_and_is_recorded(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p-secret-id", "NW-07", nhs=NHS)
    with receiver() as gateway:
        gateway.replies[SMS_PATH] = QUEUED
        channel = {"kind": "apprise", "url": sms_url(gateway.port)}
        set_rota(r, {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [channel]}]}]})
        alert_id = raise_alert(r, "p-secret-id", T0)
        worker = NotificationDelivery(
            r, link_base="https://oxiward.example", clock=Clock(T0), targets=LOCAL_TARGETS
        )
        pump(worker, lambda: first_status(r, alert_id) == "sent")
        [got] = gateway.at(SMS_PATH)
    sent = json.loads(got.body)
    assert (sent["method"], sent["params"]["to"], sent["params"]["message_type"]) == (
        "sms.send_sms",
        PHONE,
        "sms",
    )
    text = sent["params"]["message"]
    [delivery] = deliveries(r, alert_id)
    assert "NW-07" in text
    assert "High priority alert" in text
    assert f"https://oxiward.example/n/{delivery['delivery_id']}?t=" in text  # the tracked link
    for private in (NHS, "p-secret-id", "spo2-band"):  # no identifier; the rule is clinical content
        assert private not in text
    assert (delivery["status"], delivery["channel"], delivery["recipient"], delivery["attempts"]) == (
        "sent",  # the gateway queued it: apprise cannot tell delivered
        "apprise",
        "Nurse A",
        "1",
    )
    assert TOKEN not in delivery.get("last_error", "")


def test_a_gateway_that_refuses_is_retried_then_dead_lettered(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    with receiver() as gateway:
        gateway.scripts[SMS_PATH] = [500]
        channel = {"kind": "apprise", "url": sms_url(gateway.port)}
        set_rota(r, {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [channel]}]}]})
        alert_id = raise_alert(r, "p1", T0)
        worker = NotificationDelivery(
            r, clock=Clock(T0), base_delay_s=0.05, max_attempts=2, targets=LOCAL_TARGETS
        )
        pump(worker, lambda: first_status(r, alert_id) == "dead-lettered")
        assert len(gateway.at(SMS_PATH)) == 2
    [delivery] = deliveries(r, alert_id)
    assert delivery["attempts"] == "2"
    assert delivery["last_error"].startswith("apprise could not send")
    [(_, dead)] = r.xrange(nkeys.DEAD) or []
    assert dead is not None
    assert dead[b"channel"] == b"apprise"
