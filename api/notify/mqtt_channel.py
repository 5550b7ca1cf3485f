"""The ward alert topic publisher: the one api/notify module that imports paho.

Connects on first use and keeps the connection (paho's loop thread reconnects); publishes QoS 1 and
waits for the broker's PUBACK, so `publish` returning True means the broker has the message.
"""

from __future__ import annotations

import logging
import ssl
import threading
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)


class MqttPublisher:
    def __init__(self, url: str, *, client_id: str = "", username: str = "", password: str = "") -> None:
        self._url = url
        self._client_id = client_id
        self._auth = (username, password)
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()

    def _connected(self) -> mqtt.Client:
        if self._client is None:
            parts = urlsplit(self._url)
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self._client_id)
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
            return True, ""

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.disconnect()
                self._client.loop_stop()
                self._client = None
