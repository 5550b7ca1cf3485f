"""The deployed broker configuration against the gateway's own MQTT client: per-gateway passwords, the
topic ACL (a gateway publishes only under its own id) and TLS with a CA made for the test.

The broker runs deploy/mosquitto/mosquitto.conf and acl with only paths and ports changed, the TLS
listener being the commented block of that file, uncommented.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.mqtt_client import GatewayMqtt
from gateway.outbox import Outbox
from gateway.payload import reading_topic, status_topic
from tests.gateway.mqtt_helpers import Received, wait_until
from tests.gateway.tls_material import TlsFiles, make_tls
from tests.services import ManagedProcess, free_port, require_binary, wait_for_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
PASSWORDS = {"gw-a": "pw-a-" + uuid.uuid4().hex, "gw-b": "pw-b-" + uuid.uuid4().hex,
             "oxiward-service": "svc-" + uuid.uuid4().hex}  # fmt: skip


@dataclass
class DeployedBroker(ManagedProcess):
    tls: TlsFiles | None = None
    tls_port: int = field(default_factory=free_port)

    def command(self) -> list[str]:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        passwd = data / "passwd"
        passwd.write_text("")
        for user, password in PASSWORDS.items():  # hashed by Mosquitto's own tool ($7$ PBKDF2-SHA512)
            subprocess.run(
                [require_binary("mosquitto_passwd", "mosquitto"), "-b", str(passwd), user, password],
                check=True,
            )
        conf = (DEPLOY / "mosquitto.conf").read_text()
        conf = conf.replace("listener 1883\n", f"listener {self.port} 127.0.0.1\n")
        conf = conf.replace("/mosquitto/data/", f"{data}/").replace(
            "/mosquitto/config/acl", str(DEPLOY / "acl")
        )
        if self.tls is not None:
            tls_block = [
                line.removeprefix("#") for line in conf.splitlines() if line.startswith("#listener 8883")
            ]
            assert tls_block, "deploy/mosquitto/mosquitto.conf lost its TLS listener block"
            conf = (
                conf.replace("#listener 8883", f"listener {self.tls_port} 127.0.0.1")
                .replace("#certfile /mosquitto/certs/broker.pem", f"certfile {self.tls.cert}")
                .replace("#keyfile /mosquitto/certs/broker.key", f"keyfile {self.tls.key}")
                .replace("#tls_version tlsv1.2", "tls_version tlsv1.2")
            )
        conf += "user root\n" if os.geteuid() == 0 else ""  # as root it would drop to `mosquitto`
        path = self.workdir / "mosquitto.conf"
        path.write_text(conf)
        return [require_binary("mosquitto", "mosquitto"), "-c", str(path)]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DeployedBroker]:
    server = DeployedBroker(name="mosquitto", workdir=tmp_path, tls=make_tls(tmp_path))
    server.start()
    wait_for_port(server.tls_port)
    yield server
    server.stop()


class Service:
    """The service's ingest login: reads every gateway's readings and statuses."""

    def __init__(self, port: int) -> None:
        self.messages: list[Received] = []
        self._ready = 0
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"svc-{uuid.uuid4().hex[:8]}",
                                  protocol=MQTTProtocolVersion.MQTTv311)  # fmt: skip
        self.client.username_pw_set("oxiward-service", PASSWORDS["oxiward-service"])
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            [("oxiward/v1/readings/#", 1), ("oxiward/v1/status/#", 1)]
        )
        self.client.on_subscribe = lambda c, u, mid, rcs, p: setattr(self, "_ready", 1)
        self.client.on_message = lambda c, u, m: self.messages.append(
            Received(m.topic, bytes(m.payload), m.qos, bool(m.retain))
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(lambda: self._ready == 1, message="service subscribed")

    def topics(self) -> list[str]:
        return [m.topic for m in list(self.messages)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _reading(gateway_id: str, n: int) -> tuple[str, str, bytes]:
    rid = f"{n:032x}"
    return rid, reading_topic(gateway_id), json.dumps({"reading_id": rid, "n": n}).encode()


def test_a_gateway_can_publish_only_under_its_own_id(broker: DeployedBroker, tmp_path: Path) -> None:
    service = Service(broker.port)
    box = Outbox(tmp_path / "a.sqlite3", max_rows=1000)
    gw_a = GatewayMqtt(gateway_id="gw-a", host="127.0.0.1", port=broker.port, outbox=box,
                       password=PASSWORDS["gw-a"], reconnect_max_s=1)  # fmt: skip
    # gw-a's credentials used to speak for gw-b: a stolen or misconfigured home gateway.
    rogue = paho.Client(CallbackAPIVersion.VERSION2, client_id="rogue", protocol=MQTTProtocolVersion.MQTTv311)
    rogue.username_pw_set("gw-a", PASSWORDS["gw-a"])
    rogue.connect("127.0.0.1", broker.port)
    rogue.loop_start()
    try:
        gw_a.start()
        box.put_many([_reading("gw-a", n) for n in range(3)])
        gw_a.notify()
        for topic in (reading_topic("gw-b"), status_topic("gw-b")):
            # MQTT 3.1.1: the broker acknowledges and silently drops what the ACL forbids.
            rogue.publish(topic, b'{"v":1}', qos=1).wait_for_publish(15)
        rogue.publish(reading_topic("gw-a"), b'{"marker":true}', qos=1).wait_for_publish(15)
        wait_until(lambda: service.topics().count(reading_topic("gw-a")) >= 4, message="gw-a's own readings")
        wait_until(lambda: status_topic("gw-a") in service.topics(), message="gw-a's status")
        # The refused ones were sent before the marker on the same connection: they would be here.
        assert reading_topic("gw-b") not in service.topics()
        assert status_topic("gw-b") not in service.topics()
    finally:
        rogue.disconnect()
        rogue.loop_stop()
        gw_a.stop()
        box.close()
        service.close()


def test_a_refused_reading_stays_on_the_gateway_until_the_broker_takes_it(
    broker: DeployedBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """MQTT 5: the ACL's refusal comes back in the PUBACK, so the rows are kept, not deleted as sent."""
    caplog.set_level(logging.INFO, logger="gateway")
    service = Service(broker.port)
    box = Outbox(tmp_path / "r.sqlite3", max_rows=1000)
    box.put_many([_reading("gw-b", n) for n in range(3)])
    # Misconfigured: gateway id gw-b, but gw-a's login, which may publish only under gw-a.
    wrong = GatewayMqtt(gateway_id="gw-b", host="127.0.0.1", port=broker.port, outbox=box, username="gw-a",
                        password=PASSWORDS["gw-a"], reconnect_max_s=1, refused_retry_s=0.5)  # fmt: skip
    try:
        wrong.start()
        wait_until(lambda: wrong.refused >= 6, message="refused, then tried again")
        assert caplog.text.count("refused a reading") == 1
        assert "Not authorized" in caplog.text
        assert box.depth() == 3
        assert reading_topic("gw-b") not in service.topics()
        wrong.stop()
        fixed = GatewayMqtt(gateway_id="gw-b", host="127.0.0.1", port=broker.port, outbox=box,
                            password=PASSWORDS["gw-b"], reconnect_max_s=1)  # fmt: skip
        fixed.start()
        try:
            wait_until(lambda: box.depth() == 0, message="sent once the login is right")
            wait_until(lambda: service.topics().count(reading_topic("gw-b")) == 3, message="all three")
            got = [json.loads(m.payload)["n"] for m in service.messages if m.topic == reading_topic("gw-b")]
            assert got == [0, 1, 2]
        finally:
            fixed.stop()
    finally:
        wrong.stop()
        box.close()
        service.close()


def test_a_wrong_password_is_refused_and_said_once(
    broker: DeployedBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway")
    box = Outbox(tmp_path / "b.sqlite3", max_rows=1000)
    gw_b = GatewayMqtt(gateway_id="gw-b", host="127.0.0.1", port=broker.port, outbox=box,
                       password="not-" + PASSWORDS["gw-b"], reconnect_max_s=1)  # fmt: skip
    try:
        gw_b.start()
        box.put_many([_reading("gw-b", 1)])
        wait_until(lambda: "refused the gateway's login" in caplog.text, message="operator message")
        time.sleep(2.5)  # several retries later
        assert caplog.text.count("refused the gateway's login") == 1
        assert not gw_b.connected
        assert box.depth() == 1  # kept for when the password is fixed
        assert PASSWORDS["gw-b"] not in caplog.text
    finally:
        gw_b.stop()
        box.close()


def test_tls_with_the_wards_ca(broker: DeployedBroker, tmp_path: Path) -> None:
    assert broker.tls is not None
    service = Service(broker.port)
    box = Outbox(tmp_path / "t.sqlite3", max_rows=1000)
    gw_a = GatewayMqtt(gateway_id="gw-a", host="localhost", port=broker.tls_port, outbox=box,
                       password=PASSWORDS["gw-a"], tls=True, ca_file=str(broker.tls.ca),
                       reconnect_max_s=1)  # fmt: skip
    try:
        gw_a.start()
        box.put_many([_reading("gw-a", n) for n in range(5)])
        gw_a.notify()
        wait_until(lambda: service.topics().count(reading_topic("gw-a")) >= 5, message="readings over TLS")
        wait_until(lambda: box.depth() == 0, message="acknowledged over TLS")
        assert gw_a.connected
    finally:
        gw_a.stop()
        box.close()
        service.close()


def test_tls_refuses_a_broker_certificate_from_another_ca(broker: DeployedBroker, tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    other = make_tls(tmp_path / "other")  # a CA the broker's certificate does not come from
    box = Outbox(tmp_path / "x.sqlite3", max_rows=1000)
    gw_a = GatewayMqtt(gateway_id="gw-a", host="localhost", port=broker.tls_port, outbox=box,
                       password=PASSWORDS["gw-a"], tls=True, ca_file=str(other.ca),
                       reconnect_max_s=1)  # fmt: skip
    try:
        gw_a.start()
        box.put_many([_reading("gw-a", 1)])
        time.sleep(2.0)  # time for a few attempts
        assert not gw_a.connected
        assert box.depth() == 1
    finally:
        gw_a.stop()
        box.close()
