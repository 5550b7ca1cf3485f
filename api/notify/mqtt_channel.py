"""The ward alert topic publisher: the one api/notify module that imports paho.

Connects on first use and keeps the connection (paho's loop thread reconnects); publishes QoS 1 and
waits for the broker's PUBACK, so `publish` returning True means the broker has the message. MQTT 5,
because a 3.1.1 broker acknowledges a publish its ACL refuses and drops it: the delivery would be
recorded `delivered` and reach nobody. MQTT 5's PUBACK says so (reason >= 0x80, e.g. 0x87 not
authorized), and the delivery fails, is retried and in the end dead-lettered with a technical alert.
"""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)


class MqttPublisher:
    def __init__(
        self, url: str, *, client_id: str = "", username: str = "", password: str = "", protocol: str = "5"
    ) -> None:
        self._url = url
        self._protocol = MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
        self._client_id = client_id
        self._auth = (username, password)
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()
        self._refused: dict[int, str] = {}  # mid -> the broker's failure reason (paho's thread writes)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, rc: ReasonCode, props: Any) -> None:
        if rc.is_failure:
            self._refused[mid] = str(rc)

    def _connected(self) -> mqtt.Client:
        if self._client is None:
            parts = urlsplit(self._url)
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=self._client_id, protocol=self._protocol
            )
            client.on_publish = self._on_publish
            if self._auth[0]:
                client.username_pw_set(*self._auth)
            if parts.scheme == "mqtts":
                client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
            default = 8883 if parts.scheme == "mqtts" else 1883
            client.connect(parts.hostname or "127.0.0.1", parts.port or default, keepalive=30)
            client.loop_start()
            self._client = client
        return self._client

    def publish(self, topic: str, payload: bytes, timeout_s: float = 5.0) -> tuple[bool, str]:
        """(published, error text)."""
        with self._lock:
            try:
                info = self._connected().publish(topic, payload, qos=1)
                info.wait_for_publish(timeout_s)
            except (OSError, RuntimeError, ValueError) as exc:
                return False, f"MQTT publish failed: {type(exc).__name__}"
            if not info.is_published():
                return False, f"no PUBACK within {timeout_s:g} s"
            refused = self._refused.pop(info.mid, None)
            if refused is not None:  # the broker's own words, e.g. "Not authorized": no secret in them
                return False, f"the broker refused the publish: {refused}"
            return True, ""

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.disconnect()
                self._client.loop_stop()
                self._client = None
