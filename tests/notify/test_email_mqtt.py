"""People and local integrations: e-mail through apprise to a real local SMTP server (aiosmtpd), and
the ward's MQTT alert topic through the real Mosquitto fixture."""

from __future__ import annotations

import json
import queue
import time
from typing import Any

import paho.mqtt.client as mqtt
import redis
from paho.mqtt.enums import CallbackAPIVersion

from alerting.model import Priority
from api.notify.delivery import NotificationDelivery
from api.notify.mqtt_channel import MqttPublisher
from tests.api.webhook_receiver import LOCAL_TARGETS, receiver
from tests.notify.smtp import mail_text, mail_url, smtp_server
from tests.notify.support import (
    T0,
    WARD,
    Clock,
    clear_condition,
    deliveries,
    enrol,
    first_status,
    pump,
    raise_alert,
    set_rota,
    webhook,
)
from tests.services import MosquittoBroker

NHS = "9434765919"


def test_an_email_reaches_the_rota_without_patient_identifiers(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p-secret-id", "NW-07", nhs=NHS)
    with smtp_server() as (inbox, port):
        channel = {"kind": "apprise", "url": mail_url(port)}
        set_rota(r, {"tiers": [{"recipients": [{"name": "Nurse A", "channels": [channel]}]}]})
        alert_id = raise_alert(r, "p-secret-id", T0)
        # The SMTP server listens on 127.0.0.1, which the default target policy refuses.
        worker = NotificationDelivery(
            r, link_base="https://oxiward.example", clock=Clock(T0), targets=LOCAL_TARGETS
        )
        pump(worker, lambda: len(inbox.mails) == 1)
    [(to, raw)] = inbox.mails
    assert to == ["nurse@ward.example"]
    text = mail_text(raw)
    assert "NW-07" in text
    assert "HIGH" in text
    [delivery] = deliveries(r, alert_id)
    assert f"https://oxiward.example/n/{delivery['delivery_id']}?t=" in text  # the tracked link
    assert NHS not in text
    assert "spo2-band" not in text  # the rule is clinical content: not at the default level
    assert "p-secret-id" not in text  # the link names the delivery, not the patient
    assert first_status(r, alert_id) == "sent"  # apprise cannot tell delivered


def test_good_news_goes_to_machines_but_not_to_peoples_inboxes(redis_url: str) -> None:
    """`page` false (late data, all-clear, §6.2.5): webhooks are told, phones and inboxes are not."""
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    with smtp_server() as (inbox, port), receiver() as rx:
        channels = [{"kind": "apprise", "url": mail_url(port)}, webhook(rx.url("/hook"))]
        set_rota(r, {"tiers": [{"recipients": [{"name": "Nurse A", "channels": channels}]}]})
        raise_alert(r, "p1", T0, Priority.MEDIUM)
        worker = NotificationDelivery(r, clock=Clock(T0), targets=LOCAL_TARGETS)
        pump(worker, lambda: len(inbox.mails) == 1 and len(rx.at("/hook")) == 1)
        clear_condition(r, "p1", T0)
        pump(worker, lambda: len(rx.at("/hook")) == 2)
        assert json.loads(rx.at("/hook")[1].body)["kind"] == "all-clear"
        assert len(inbox.mails) == 1  # the raise was mailed; the all-clear was not


def test_the_ward_alert_topic_gets_every_notification(redis_url: str, mosquitto: MosquittoBroker) -> None:
    r = redis.Redis.from_url(redis_url)
    enrol(r, "p1", "NW-07")
    set_rota(r, {"tiers": [], "mqtt": {"privacy": "minimal"}})
    got: queue.Queue[tuple[str, bytes]] = queue.Queue()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{time.monotonic_ns()}")

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        got.put((msg.topic, bytes(msg.payload)))

    sub.on_message = on_message
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe(f"oxiward/v1/alerts/{WARD}", qos=1)
    sub.loop_start()
    publisher = MqttPublisher(mosquitto.url, client_id="notify-test")
    try:
        time.sleep(0.2)  # let the SUBACK land; the publish below waits for its PUBACK anyway
        alert_id = raise_alert(r, "p1", T0, Priority.MEDIUM)
        worker = NotificationDelivery(r, clock=Clock(T0), mqtt=publisher)
        pump(worker, lambda: first_status(r, alert_id) == "delivered")
        topic, payload = got.get(timeout=15)
    finally:
        publisher.close()
        sub.loop_stop()
        sub.disconnect()
    assert topic == f"oxiward/v1/alerts/{WARD}"
    body = json.loads(payload)
    assert (body["ref"], body["priority"], body["alert_id"]) == ("NW-07", "medium", alert_id)
    assert "rule" not in body
    assert "accept" not in body  # only a webhook's signed message carries the accept call
    assert body["link"].startswith("/n/")  # tracked, relative: this worker was given no public URL
