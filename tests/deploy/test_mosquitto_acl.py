"""The deployed broker configuration, run for real: passwords from the environment, ACL by gateway id.

Runs deploy/mosquitto/start-mosquitto.sh with deploy/mosquitto/mosquitto.conf and acl, changing
only the paths and the listener port so it runs outside a container.
"""

from __future__ import annotations

import os
import queue
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from api.notify.mqtt_channel import MqttPublisher
from tests.services import free_port, require_binary, wait_for_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
SERVICE_PASSWORD = "service-" + uuid.uuid4().hex
SIM_PASSWORD = "sim-" + uuid.uuid4().hex
ALERTS_PASSWORD = "alerts-" + uuid.uuid4().hex


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    require_binary("mosquitto", "mosquitto")
    require_binary("mosquitto_passwd", "mosquitto")
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    conf = (DEPLOY / "mosquitto.conf").read_text()
    assert "listener 1883\n" in conf
    assert "/mosquitto/data/" in conf
    conf = conf.replace("listener 1883\n", f"listener {port} 127.0.0.1\n")
    conf = conf.replace("/mosquitto/data/", f"{data}/").replace("/mosquitto/config/acl", str(DEPLOY / "acl"))
    # As root, Mosquitto drops to its own user, which cannot enter pytest's private tmp directory.
    conf += "user root\n" if os.geteuid() == 0 else ""
    (tmp_path / "mosquitto.conf").write_text(conf)
    env = {
        "PATH": os.environ["PATH"] + ":/usr/sbin:/usr/local/sbin",
        "OXIWARD_MQTT_SERVICE_PASSWORD": SERVICE_PASSWORD,
        "OXIWARD_SIM_MQTT_PASSWORD": SIM_PASSWORD,
        "OXIWARD_SIM_PATIENTS": "2",
        "OXIWARD_MQTT_ALERTS_PASSWORD": ALERTS_PASSWORD,
        "MOSQUITTO_CONF": str(tmp_path / "mosquitto.conf"),
        "MOSQUITTO_PASSWD": str(data / "passwd"),
    }
    log = (tmp_path / "mosquitto.log").open("wb")
    proc = subprocess.Popen(["sh", str(DEPLOY / "start-mosquitto.sh")], env=env, stdout=log, stderr=log)
    try:
        wait_for_port(port, timeout=20)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _client(port: int, username: str, password: str) -> tuple[mqtt.Client, queue.Queue[ReasonCode]]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{username}-{uuid.uuid4().hex[:6]}")
    client.username_pw_set(username, password)
    connected: queue.Queue[ReasonCode] = queue.Queue()
    client.on_connect = lambda c, u, flags, rc, props: connected.put(rc)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, connected


def test_gateways_publish_only_under_their_own_id(broker: int) -> None:
    received: queue.Queue[str] = queue.Queue()
    service, connected = _client(broker, "oxiward-service", SERVICE_PASSWORD)
    subscribed: queue.Queue[object] = queue.Queue()
    service.on_message = lambda c, u, msg: received.put(msg.topic)
    service.on_subscribe = lambda c, u, mid, rcs, props: subscribed.put(rcs)
    gateway, gw_connected = _client(broker, "sim-gw-01", SIM_PASSWORD)
    try:
        assert not connected.get(timeout=15).is_failure
        assert not gw_connected.get(timeout=15).is_failure
        # The service ingests through a shared subscription (scale-out); the ACL must allow it.
        service.subscribe("$share/ingest/oxiward/v1/readings/#", qos=1)
        service.subscribe("oxiward/v1/status/#", qos=1)
        for _ in range(2):
            subscribed.get(timeout=15)

        own, other = "oxiward/v1/readings/07/sim-gw-01", "oxiward/v1/readings/07/sim-gw-02"
        gateway.publish(other, b"{}", qos=1).wait_for_publish(15)  # accepted on the wire, then dropped
        gateway.publish("oxiward/v1/status/sim-gw-02", b"{}", qos=1).wait_for_publish(15)
        gateway.publish(own, b"{}", qos=1).wait_for_publish(15)
        gateway.publish("oxiward/v1/status/sim-gw-01", b"{}", qos=1).wait_for_publish(15)
        got = {received.get(timeout=15), received.get(timeout=15)}
        assert got == {own, "oxiward/v1/status/sim-gw-01"}
        assert received.empty()
    finally:
        for client in (service, gateway):
            client.disconnect()
            client.loop_stop()


def test_wrong_password_and_anonymous_are_refused(broker: int) -> None:
    for username, password in (("sim-gw-01", "not-the-password"), ("sim-gw-03", SIM_PASSWORD)):
        client, connected = _client(broker, username, password)
        try:
            assert connected.get(timeout=15).is_failure, username
        finally:
            client.disconnect()
            client.loop_stop()
    anonymous = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="anon")
    refused: queue.Queue[ReasonCode] = queue.Queue()
    anonymous.on_connect = lambda c, u, flags, rc, props: refused.put(rc)
    anonymous.connect("127.0.0.1", broker)
    anonymous.loop_start()
    try:
        assert refused.get(timeout=15).is_failure
    finally:
        anonymous.disconnect()
        anonymous.loop_stop()


def test_the_service_publishes_ward_alerts_that_only_the_alerts_account_reads(broker: int) -> None:
    """The ward alert topic through the deployed ACL: published by the service, read by the local
    integrations' account; a login the ACL does not let publish there is told so (MQTT 5), never
    recorded as delivered."""
    topic = "oxiward/v1/alerts/north-1"
    reader, reader_connected = _client(broker, "oxiward-alerts", ALERTS_PASSWORD)
    snoop, snoop_connected = _client(broker, "sim-gw-01", SIM_PASSWORD)
    received: queue.Queue[tuple[str, bytes]] = queue.Queue()
    snooped: queue.Queue[str] = queue.Queue()
    subscribed: queue.Queue[object] = queue.Queue()
    reader.on_message = lambda c, u, msg: received.put((msg.topic, msg.payload))
    snoop.on_message = lambda c, u, msg: snooped.put(msg.topic)
    for client in (reader, snoop):
        client.on_subscribe = lambda c, u, mid, rcs, props: subscribed.put(rcs)
    url = f"mqtt://127.0.0.1:{broker}"
    service = MqttPublisher(
        url, client_id="notify-acl", username="oxiward-service", password=SERVICE_PASSWORD
    )
    gateway = MqttPublisher(url, client_id="notify-gw", username="sim-gw-02", password=SIM_PASSWORD)
    try:
        assert not reader_connected.get(timeout=15).is_failure
        assert not snoop_connected.get(timeout=15).is_failure
        reader.subscribe("oxiward/v1/alerts/#", qos=1)
        snoop.subscribe("oxiward/v1/alerts/#", qos=1)
        for _ in range(2):
            subscribed.get(timeout=15)
        assert service.publish(topic, b'{"priority":"high"}') == (True, "")
        assert received.get(timeout=15) == (topic, b'{"priority":"high"}')
        published, error = gateway.publish(topic, b'{"priority":"fake"}')
        assert not published
        assert "Not authorized" in error
        assert received.empty()
        assert snooped.empty()  # a gateway's account reads no ward's alerts
    finally:
        service.close()
        gateway.close()
        for client in (reader, snoop):
            client.disconnect()
            client.loop_stop()
