"""MQTT publisher (the gateway's only paho user): outbox rows out at QoS 1, deleted only after PUBACK.

Threads: paho's network thread reads PUBACKs; a sender thread of ours reads the outbox, hands rows
to paho and deletes acknowledged rows in batches. At most `max_inflight` rows are unacknowledged at
a time, so a week's backlog drains without being held in memory; the sender is woken when a quarter
of the window is free, not on every PUBACK, and deletes in one transaction per refill
(bench/outbox_flush.py measures the flush). The asyncio side only calls `notify()` /
`set_devices()`, which never block.

The outbox, not paho, is the source of truth: paho keeps unacknowledged messages in memory only.
Within one process paho re-sends its in-flight messages itself after a reconnect (DUP, same mid) and
newer rows wait until those are acknowledged, so the broker still gets them oldest first; after a
process restart everything still in the outbox is sent again, oldest first. Duplicates are
harmless: the service stores each reading_id once.

MQTT 5 (the default) because a 3.1.1 broker acknowledges a publish its ACL refuses and drops it, so
the row would be deleted and the reading lost without a word; MQTT 5 answers such a publish with a
failure reason (e.g. 0x87 not authorized). A refused row stays in the outbox: the sender says so
once, waits `refused_retry_s` (doubling, at most 15 min) and sends what is left again, oldest first.
3.1.1 stays available for brokers without MQTT 5 (the demo's in-process amqtt).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.model import DeviceStatus
from gateway.outbox import Outbox
from gateway.payload import encode_status, status_topic, validate_gateway_id
from gateway.publish_window import STATUS, PublishWindow
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

CLIENT_ID_PREFIX: Final = "oxiward-gw-"
LAST_WILL_REASON: Final = "connection-lost"  # tests/golden/mqtt/v1/status-last-will.json
_IDLE_WAKE_S: Final = 1.0
_SENT: Final = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)  # NO_CONN: paho queues it
#: MQTT 5 session kept by the broker across drops (wire-contract.md: persistent session), one day.
SESSION_EXPIRY_S: Final = 86_400
_REFUSED_RETRY_MAX_S: Final = 900.0
PROTOCOLS: Final = {"5": MQTTProtocolVersion.MQTTv5, "3.1.1": MQTTProtocolVersion.MQTTv311}


class GatewayMqtt:
    """Publishes what is in the outbox, plus the gateway's retained status (heartbeat) and last will."""

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
        status_interval_s: float = 60.0,
        status_extra: Callable[[], Mapping[str, Any]] | None = None,
        protocol: str = "5",
        refused_retry_s: float = 30.0,
    ) -> None:
        self.gateway_id = validate_gateway_id(gateway_id)
        self.host, self.port = host, port
        self.outbox = outbox
        self.max_inflight = max_inflight
        self.status_interval_s = status_interval_s
        self._status_topic = status_topic(gateway_id)
        self._devices: tuple[DeviceStatus, ...] = ()
        self._status_extra = status_extra
        self._window = PublishWindow(max_inflight)
        self._cursor = 0  # highest outbox seq handed to paho in this process
        self._wake = threading.Event()
        self._stopping = False
        self._connected = False
        self._status_due = False
        self._resend_first = False
        self._broker_complained = False
        self._sender: threading.Thread | None = None
        self.sent = 0  # rows acknowledged by the broker and deleted
        self.refused = 0  # publishes the broker refused (MQTT 5); their rows stay in the outbox
        self._refused_retry_s = refused_retry_s
        self._refused_wait_s = refused_retry_s
        self._refused_reason: str | None = None  # set by paho's thread, handled by the sender
        self._resend_at: float | None = None
        self._refusal_said = False  # said once until the broker takes a reading again

        if protocol not in PROTOCOLS:
            raise ValueError(f"MQTT protocol must be one of {sorted(PROTOCOLS)}, got {protocol!r}")
        self._v5 = protocol == "5"
        if self._v5:
            client = paho.Client(
                CallbackAPIVersion.VERSION2, client_id=CLIENT_ID_PREFIX + gateway_id, protocol=PROTOCOLS["5"]
            )
        else:
            client = paho.Client(
                CallbackAPIVersion.VERSION2,
                client_id=CLIENT_ID_PREFIX + gateway_id,
                clean_session=False,  # wire-contract.md: persistent session
                protocol=PROTOCOLS["3.1.1"],
            )
        # wire-contract.md: the username is the gateway id unless configured otherwise.
        client.username_pw_set(username or gateway_id, password)
        if tls:
            client.tls_set(ca_certs=ca_file)  # verifies the broker's certificate and host name
        will = encode_status(gateway_id, "offline", reason=LAST_WILL_REASON)
        client.will_set(self._status_topic, will, qos=1, retain=True)
        # Our window bounds what paho holds; paho's own limit (0 = none) would make it rescan its
        # whole queue on every PUBACK (client.py _update_inflight).
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)
        # paho's delays are whole seconds.
        client.reconnect_delay_set(max(1, round(reconnect_min_s)), max(1, round(reconnect_max_s)))
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client
        self._keepalive_s = keepalive_s

    @classmethod
    def from_settings(
        cls,
        settings: GatewaySettings,
        outbox: Outbox,
        status_extra: Callable[[], Mapping[str, Any]] | None = None,
    ) -> GatewayMqtt:
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        return cls(
            gateway_id=settings.gateway_id, host=settings.mqtt_host, port=settings.mqtt_port, outbox=outbox,
            username=settings.mqtt_username, password=password, tls=settings.mqtt_tls,
            ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
            keepalive_s=settings.mqtt_keepalive_s, max_inflight=settings.mqtt_max_inflight,
            reconnect_min_s=settings.reconnect_min_s, reconnect_max_s=settings.reconnect_max_s,
            status_interval_s=settings.heartbeat_s, status_extra=status_extra,
            protocol=settings.mqtt_protocol,
        )  # fmt: skip

    # --- public, callable from any thread, never blocking ------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def inflight_high_water(self) -> int:
        return self._window.high_water

    def inflight(self) -> int:
        return self._window.rows()

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers) and start sending."""
        if self._v5:
            session = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho: untyped
            session.SessionExpiryInterval = SESSION_EXPIRY_S
            # clean_start False on every connect, the first included: resume the session if the broker has it.
            self._client.connect_async(
                self.host, self.port, keepalive=self._keepalive_s, clean_start=False, properties=session
            )
        else:
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
            offline = encode_status(self.gateway_id, "offline", at=datetime.now(UTC), reason="shutdown")
            info = self._client.publish(self._status_topic, offline, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=timeout_s)
            except (RuntimeError, ValueError):
                log.warning("The gateway could not tell the ward it is stopping (no answer from the server).")
        self._client.disconnect()  # a clean DISCONNECT: the broker discards the last will
        self._client.loop_stop()
        self._connected = False
        self._delete_acked()

    def status_fields(self) -> dict[str, Any]:
        """The heartbeat's extra fields (wire-contract.md "Gateway status"): outbox health and more."""
        extra: dict[str, Any] = {
            "outbox_dropped": self.outbox.dropped(),
            "outbox_capacity": self.outbox.max_rows,
        }
        if self._status_extra is not None:
            extra.update(self._status_extra())
        return extra

    # --- sender thread -------------------------------------------------------------------------

    def _run_sender(self) -> None:
        next_status = 0.0
        while True:
            self._wake.wait(timeout=_IDLE_WAKE_S)
            self._wake.clear()
            try:
                if self._stopping:
                    return
                if not self._connected:
                    self._delete_acked()
                    continue
                now = time.monotonic()
                if self._status_due or now >= next_status:
                    self._status_due = False
                    next_status = now + self.status_interval_s
                    self._publish_status()
                self._pump()
            except Exception:
                # Never let the sender die: rows stay in the outbox and are retried on the next wake.
                log.error("The gateway had a problem sending readings; it will try again.")
                log.debug("sender failure", exc_info=True)
                self._wake.wait(timeout=_IDLE_WAKE_S)

    def _pump(self) -> None:
        """Delete acknowledged rows, then top the window up from the outbox."""
        window = self._window
        self._delete_acked()
        if self._stopping or not self._connected:
            return
        refusal = self._refused_reason is not None or self._resend_at is not None
        if refusal and not self._after_refusal():
            return
        if self._resend_first:
            # After a reconnect paho re-sends what was unacknowledged at the drop; hold newer rows back
            # until those are acknowledged, so readings still reach the broker oldest first.
            if window.rows():
                return
            self._resend_first = False
        if not window.wants_refill():
            return
        for row in self.outbox.pending(window.room(), after_seq=self._cursor):
            info = self._client.publish(row.topic, row.payload, qos=1)
            if info.rc not in _SENT:
                log.debug("paho refused a reading (%s); will retry", paho.error_string(info.rc))
                return
            window.track(info.mid, row.seq)
            self._cursor = row.seq

    def _after_refusal(self) -> bool:
        """After the broker refused rows: True once it is time to send what is left again, oldest first."""
        if self._refused_reason is not None:
            reason, self._refused_reason = self._refused_reason, None
            if self._resend_at is None:
                if not self._refusal_said:
                    log.error(
                        "The ward's server refused a reading (%s), so readings wait on the gateway and "
                        "are tried again later. Technician: OXIWARD_GATEWAY_GATEWAY_ID must equal the "
                        "MQTT username, and the broker's ACL must let it publish under that id.",
                        reason,
                    )
                    self._refusal_said = True
                log.debug("readings refused (%s); next attempt in %g s", reason, self._refused_wait_s)
                self._resend_at = time.monotonic() + self._refused_wait_s
                self._refused_wait_s = min(self._refused_wait_s * 2, _REFUSED_RETRY_MAX_S)
        if self._resend_at is None or time.monotonic() < self._resend_at or self._window.rows():
            return False
        self._resend_at = None
        self._cursor = 0  # refused rows are still in the outbox: start again from the oldest
        return True

    def _delete_acked(self) -> None:
        seqs = self._window.take_acked()
        if seqs:
            self.sent += self.outbox.mark_sent_many(seqs)

    def _publish_status(self) -> None:
        payload = encode_status(
            self.gateway_id, "online", at=datetime.now(UTC), outbox_depth=self.outbox.depth(),
            devices=self._devices, extra=self.status_fields(),
        )  # fmt: skip
        info = self._client.publish(self._status_topic, payload, qos=1, retain=True)
        self._window.track(info.mid, STATUS)

    # --- paho callbacks (paho's thread) -------------------------------------------------------

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, rc: ReasonCode, props: Any) -> None:
        # Called on PUBACK. Wake the sender only when a refill is worth an outbox read (or nothing is
        # left in flight): waking it on every acknowledgement costs more than the sending itself.
        if rc.is_failure:
            seq = self._window.refuse(mid)
            if seq != STATUS:
                self.refused += 1
                self._refused_reason = str(rc)
                self._wake.set()
            return
        seq = self._window.acknowledge(mid)
        if seq is not None and seq != STATUS:
            self._refused_wait_s = self._refused_retry_s  # the broker takes readings again
            self._refusal_said = False
            if self._window.wants_refill():
                self._wake.set()

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            if not self._broker_complained:
                log.error(
                    "The ward's server refused the gateway's login, so readings wait on the gateway. "
                    "Technician: check OXIWARD_GATEWAY_MQTT_USERNAME / MQTT_PASSWORD and the broker's "
                    "ACL for gateway %s.",
                    self.gateway_id,
                )
                self._broker_complained = True
            log.debug("broker %s:%d refused the connection: %s", self.host, self.port, reason)
            return
        log.info("Connected to the ward's server; %d readings waiting to be sent.", self.outbox.depth())
        self._broker_complained = False
        self._resend_first = self.inflight() > 0
        self._connected = True
        self._status_due = True
        self._wake.set()

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        if not self._broker_complained:
            log.warning(
                "Cannot reach the ward's server; readings are kept on the gateway and sent when it is back. "
                "Technician: check the home internet connection and OXIWARD_GATEWAY_MQTT_URL (%s:%d).",
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
            log.warning("Lost the connection to the ward's server; readings are kept on the gateway "
                        "and sent when it is back.")  # fmt: skip
            log.debug("MQTT disconnect from %s:%d: %s", self.host, self.port, reason)
