"""MQTT publisher (the gateway's only paho user): outbox rows out at QoS 1, deleted only after PUBACK.

Threads: paho's network thread runs the callbacks; a sender thread of ours reads the outbox, hands
rows to paho (at most `max_inflight` unacknowledged at a time, so a week's backlog drains without
holding it in memory) and deletes acknowledged rows in batches. The asyncio side only calls
`notify()` / `set_devices()`, which never block.

The outbox, not paho, is the source of truth: paho keeps unacknowledged messages in memory only.
Within one process paho re-sends its in-flight messages itself after a reconnect (DUP, same mid) and
newer rows wait until those are acknowledged, so the broker still gets them oldest first; after a
process restart everything still in the outbox is sent again, oldest first. Duplicates are
harmless: the service stores each reading_id once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from gateway.model import DeviceStatus
from gateway.outbox import Outbox
from gateway.payload import encode_status, status_topic, validate_gateway_id
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

CLIENT_ID_PREFIX: Final = "oxiward-gw-"
LAST_WILL_REASON: Final = "connection-lost"  # tests/golden/mqtt/v1/status-last-will.json
_STATUS: Final = -1  # in-flight marker for status messages (not outbox rows)
_IDLE_WAKE_S: Final = 1.0


class GatewayMqtt:
    """Publishes what is in the outbox, plus the gateway's retained status and last will."""

    def __init__(
        self,
        *,
        gateway_id: str,
        host: str,
        port: int,
        outbox: Outbox,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        ca_file: str | None = None,
        keepalive_s: int = 30,
        max_inflight: int = 200,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 60.0,
        status_interval_s: float = 300.0,
    ) -> None:
        self.gateway_id = validate_gateway_id(gateway_id)
        self.host, self.port = host, port
        self.outbox = outbox
        self.max_inflight = max_inflight
        self.status_interval_s = status_interval_s
        self._status_topic = status_topic(gateway_id)
        self._devices: tuple[DeviceStatus, ...] = ()

        self._map_lock = threading.Lock()
        self._inflight: dict[int, int] = {}  # paho mid -> outbox seq (or _STATUS)
        self._early_acks: set[int] = set()  # PUBACKs that beat publish() returning its mid
        self._acked: deque[int] = deque()
        self._cursor = 0  # highest outbox seq handed to paho in this process
        self._wake = threading.Event()
        self._stopping = False
        self._connected = False
        self._status_due = False
        self._resend_first = False
        self._broker_complained = False
        self._sender: threading.Thread | None = None
        self.sent = 0  # rows acknowledged by the broker and deleted
        self.inflight_high_water = 0

        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=CLIENT_ID_PREFIX + gateway_id,
            clean_session=False,  # wire-contract.md: persistent session
            protocol=MQTTProtocolVersion.MQTTv311,  # the amqtt demo broker speaks 3.1.1 only
        )
        # wire-contract.md: the username is the gateway id unless configured otherwise.
        client.username_pw_set(username or gateway_id, password)
        if tls:
            client.tls_set(ca_certs=ca_file)
        client.will_set(
            self._status_topic,
            encode_status(gateway_id, "offline", reason=LAST_WILL_REASON),
            qos=1,
            retain=True,
        )
        client.max_inflight_messages_set(max_inflight)
        client.max_queued_messages_set(0)  # unbounded in paho; we never hand it more than max_inflight
        # paho's delays are whole seconds.
        client.reconnect_delay_set(max(1, round(reconnect_min_s)), max(1, round(reconnect_max_s)))
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client
        self._keepalive_s = keepalive_s

    @classmethod
    def from_settings(cls, settings: GatewaySettings, outbox: Outbox) -> GatewayMqtt:
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        return cls(
            gateway_id=settings.gateway_id,
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            outbox=outbox,
            username=settings.mqtt_username,
            password=password,
            tls=settings.mqtt_tls,
            ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
            keepalive_s=settings.mqtt_keepalive_s,
            max_inflight=settings.mqtt_max_inflight,
            reconnect_min_s=settings.reconnect_min_s,
            reconnect_max_s=settings.reconnect_max_s,
        )

    # --- public, callable from any thread, never blocking ------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    def inflight(self) -> int:
        with self._map_lock:
            return sum(1 for seq in self._inflight.values() if seq != _STATUS)

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers) and start sending."""
        self._client.connect_async(self.host, self.port, keepalive=self._keepalive_s)
        self._client.loop_start()
        self._sender = threading.Thread(target=self._run_sender, name=f"oxiward-mqtt-{self.gateway_id}")
        self._sender.daemon = True
        self._sender.start()

    def notify(self) -> None:
        """New rows are in the outbox."""
        self._wake.set()

    def set_devices(self, devices: Sequence[DeviceStatus]) -> None:
        """Device states changed: republish the retained online status."""
        self._devices = tuple(devices)
        self._status_due = True
        self._wake.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Publish the retained offline status (if connected), disconnect cleanly, stop the threads.

        Unsent rows stay in the outbox for the next start.
        """
        self._stopping = True
        self._wake.set()
        if self._sender is not None:
            self._sender.join(timeout=timeout_s)
        if self._connected:
            info = self._client.publish(
                self._status_topic,
                encode_status(self.gateway_id, "offline", at=datetime.now(UTC), reason="shutdown"),
                qos=1,
                retain=True,
            )
            try:
                info.wait_for_publish(timeout=timeout_s)
            except (RuntimeError, ValueError) as exc:
                log.warning("Could not publish the offline status before disconnecting: %s", exc)
        self._client.disconnect()  # a clean DISCONNECT: the broker discards the last will
        self._client.loop_stop()
        self._connected = False
        self._flush_acks()

    # --- sender thread ------------------------------------------------------------------------

    def _run_sender(self) -> None:
        next_status = 0.0
        while True:
            self._wake.wait(timeout=_IDLE_WAKE_S)
            self._wake.clear()
            try:
                self._flush_acks()
                if self._stopping:
                    return
                if not self._connected:
                    continue
                now = time.monotonic()
                if self._status_due or now >= next_status:
                    self._status_due = False
                    next_status = now + self.status_interval_s
                    self._publish_status()
                self._fill()
            except Exception:
                # Never let the sender die: rows stay in the outbox and are retried on the next wake.
                log.exception("MQTT sender failed; retrying")
                self._wake.wait(timeout=_IDLE_WAKE_S)

    def _flush_acks(self) -> None:
        seqs = [self._acked.popleft() for _ in range(len(self._acked))]
        if seqs:
            self.sent += self.outbox.mark_sent_many(seqs)

    def _fill(self) -> None:
        inflight = self.inflight()
        if self._resend_first:
            # After a reconnect paho re-sends what was unacknowledged at the drop; hold newer rows back
            # until those are acknowledged, so readings still reach the broker oldest first.
            if inflight:
                return
            self._resend_first = False
        room = self.max_inflight - inflight
        # Refill in chunks rather than row by row, so each outbox read covers many rows.
        if room < max(1, self.max_inflight // 4):
            return
        for row in self.outbox.pending(room, after_seq=self._cursor):
            info = self._client.publish(row.topic, row.payload, qos=1)
            # NO_CONN: paho keeps the message queued and sends it after reconnecting.
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                log.warning("paho refused a reading (%s); will retry", paho.error_string(info.rc))
                return
            self._track(info.mid, row.seq)
            self._cursor = row.seq
        self.inflight_high_water = max(self.inflight_high_water, self.inflight())

    def _publish_status(self) -> None:
        payload = encode_status(
            self.gateway_id,
            "online",
            at=datetime.now(UTC),
            outbox_depth=self.outbox.depth(),
            devices=self._devices,
        )
        info = self._client.publish(self._status_topic, payload, qos=1, retain=True)
        self._track(info.mid, _STATUS)

    def _track(self, mid: int, seq: int) -> None:
        with self._map_lock:
            if mid in self._early_acks:
                self._early_acks.discard(mid)
                if seq != _STATUS:
                    self._acked.append(seq)
            else:
                self._inflight[mid] = seq

    # --- paho callbacks (paho's thread) -------------------------------------------------------

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, rc: ReasonCode, props: Any) -> None:
        # Called on PUBACK. paho calls it under its own lock, so we never hold ours around publish().
        with self._map_lock:
            seq = self._inflight.pop(mid, None)
            if seq is None:
                self._early_acks.add(mid)
            elif seq != _STATUS:
                self._acked.append(seq)
        self._wake.set()

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            if not self._broker_complained:
                log.error(
                    "Broker %s:%d refused the connection (%s); check OXIWARD_GATEWAY_MQTT_USERNAME / "
                    "MQTT_PASSWORD and the broker's ACL for gateway %s. Will keep trying.",
                    self.host, self.port, reason, self.gateway_id,
                )  # fmt: skip
                self._broker_complained = True
            return
        log.info("Connected to MQTT broker %s:%d (outbox holds %d readings)", self.host, self.port,
                 self.outbox.depth())  # fmt: skip
        self._broker_complained = False
        self._resend_first = self.inflight() > 0
        self._connected = True
        self._status_due = True
        self._wake.set()

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        if not self._broker_complained:
            log.warning(
                "Cannot reach MQTT broker %s:%d; readings are kept in the outbox. Check "
                "OXIWARD_GATEWAY_MQTT_URL and the network. Will keep trying.",
                self.host, self.port,
            )  # fmt: skip
            self._broker_complained = True
        else:
            log.debug("MQTT broker %s:%d still unreachable", self.host, self.port)

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        was_connected, self._connected = self._connected, False
        if was_connected and not self._stopping:
            log.warning(
                "Lost the MQTT broker %s:%d (%s); readings are kept in the outbox. Will keep trying.",
                self.host, self.port, reason,
            )  # fmt: skip
