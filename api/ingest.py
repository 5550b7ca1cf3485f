"""MQTT ingest: broker -> validate -> Redis, acknowledging each message only once it is durable.

The only module of the service that imports paho. paho acknowledges a QoS 1 PUBLISH when it hands
the message to the application, not when it is stored (docs/services.md "An MQTT QoS 1
acknowledgement is not stored"), so this client runs with `manual_ack=True`: the network thread's
on_message only enqueues; a storage thread takes batches (up to ingest_batch_max messages or
ingest_linger_ms -- batches must grow under load, docs/services.md), validates them
(api/contract.py), stores them (api/store.py) and only then sends the PUBACKs, in arrival order.
A PUBACK therefore means "in Redis, or in the dead-letter stream". If Redis is away nothing is
acknowledged: the batch is retried with backoff, and if the process dies the broker redelivers the
unacknowledged messages to the persistent session (clean session off) -- ingest is idempotent.

A message id is only valid on the connection that delivered it: messages delivered before a
reconnect are stored but never acknowledged. A resumed session makes the broker send them again
(MQTT 3.1.1 §4.4), and that copy -- a duplicate for the store -- is acknowledged; a session that was
not resumed forgot them. Acknowledging the old id as well would send two PUBACKs for one id, and
the second could acknowledge a new message that reused the freed id before that one was stored.

Logs carry no patient id and no payload content; device addresses only at DEBUG.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import redis
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from api.contract import (
    PARTITIONS,
    GatewayStatus,
    Rejection,
    RejectReason,
    ValidReading,
    is_status_topic,
    validate_reading,
    validate_status,
)
from api.settings import ApiSettings
from api.store import TRANSIENT, Checked, Failure, Outcome, ReadingStore, connect

log = logging.getLogger(__name__)

READINGS_FILTER = "oxiward/v1/readings/+/+"
STATUS_FILTER = "oxiward/v1/status/+"
QOS = 1


@dataclass(frozen=True, slots=True)
class _Inbound:
    mid: int
    qos: int
    topic: str
    payload: bytes
    session: int  # which connection delivered it (see module docstring)


@dataclass(frozen=True)
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    statuses: int = 0
    acked: int = 0
    batches: int = 0
    storage_errors: int = 0
    queued: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Stored:
    """What became of one message: its outcome, and for a dead letter the reason it was given."""

    outcome: Outcome
    reason: str = ""
    detail: str = ""


def check(topic: str, payload: bytes) -> Checked:
    """Validate one message; never raises (a validator bug dead-letters the message instead)."""
    validate = validate_status if is_status_topic(topic) else validate_reading
    try:
        value: ValidReading | GatewayStatus | Rejection = validate(topic, payload)
    except Exception as exc:
        log.error("validating a message failed (%s); dead-lettering it", type(exc).__name__)
        return Checked(topic, payload, Failure("ingest-failed", type(exc).__name__))
    return Checked(topic, payload, value)


def store_checked(store: ReadingStore, checked: list[Checked]) -> list[Stored]:
    """Store a batch of checked messages: MQTT ingest's storage step, also used by the HTTPS ingest
    for gateways (api/routes/gateway_ingest.py), so both dedup and dead-letter exactly alike.

    A message that makes the whole batch fail (Redis refusing one write, or a bug) is found by
    storing each alone, and dead-lettered as `ingest-failed` if it still fails: one poisoned
    message cannot block the rest. Raises TRANSIENT when Redis is away, and redis.RedisError when
    even single messages cannot be stored: then nothing may be acknowledged.
    """
    try:
        outcomes = store.store_batch(checked)
    except TRANSIENT:
        raise
    except Exception as exc:
        log.error("storing a batch failed (%s); storing its messages one by one", type(exc).__name__)
        return _store_one_by_one(store, checked)
    return [_stored(c, o) for c, o in zip(checked, outcomes, strict=True)]


def _stored(c: Checked, outcome: Outcome) -> Stored:
    if outcome is not Outcome.DEAD_LETTERED:
        return Stored(outcome)
    if isinstance(c.value, Rejection | Failure):
        return Stored(outcome, str(c.value.reason), c.value.detail)
    # The store dead-letters a valid reading only when its device is assigned to no one.
    return Stored(outcome, RejectReason.UNKNOWN_DEVICE.value, "the device is assigned to no patient")


def _store_one_by_one(store: ReadingStore, checked: list[Checked]) -> list[Stored]:
    out: list[Stored] = []
    for c in checked:
        try:
            [outcome] = store.store_batch([c])
        except TRANSIENT:
            raise
        except Exception as exc:  # a wrong-type key or a bug; if even the dead letter fails, it raises
            store.dead_letter("ingest-failed", type(exc).__name__, c.topic, c.payload)
            out.append(Stored(Outcome.DEAD_LETTERED, "ingest-failed", type(exc).__name__))
        else:
            out.append(_stored(c, outcome))
    return out


class IngestService:
    """Owns one paho client (own network thread) and one storage thread."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        client: redis.Redis | None = None,
        device_cache_ttl: float = 1.0,
        reconnect_delay: tuple[int, int] = (1, 30),
    ) -> None:
        self._settings = settings
        self._r = client or connect(settings.redis_url)
        self._store = ReadingStore(
            self._r,
            retention_ms=int(settings.retention_hours * 3_600_000),
            device_cache_ttl=device_cache_ttl,
        )
        self._queue: queue.Queue[_Inbound] = queue.Queue()
        self._batch_max = settings.ingest_batch_max
        self._linger_s = settings.ingest_linger_ms / 1000
        self._stopping = threading.Event()
        self._give_up_at = float("inf")
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connected = False
        self._session = 0  # counts connections; each message remembers the one it came on
        self._stats = IngestStats()
        self._redis_down = False
        self._client = self._make_client(reconnect_delay)

    # -- paho side (network thread) -----------------------------------------------------------
    def _make_client(self, reconnect_delay: tuple[int, int]) -> mqtt.Client:
        s = self._settings
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.mqtt_client_id,
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
            manual_ack=True,
        )
        if s.mqtt_username:
            password = s.mqtt_password.get_secret_value() if s.mqtt_password else None
            c.username_pw_set(s.mqtt_username, password)
        if urlparse(s.mqtt_url).scheme == "mqtts":
            c.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        c.reconnect_delay_set(*reconnect_delay)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        return c

    def _readings_filters(self) -> list[str]:
        """All readings, or one filter per owned partition (docs/architecture.md, "Scaling ingest")."""
        owned = self._settings.partitions()
        filters = (
            [READINGS_FILTER]
            if len(owned) == PARTITIONS
            else [f"oxiward/v1/readings/{p:02d}/+" for p in owned]
        )
        group = self._settings.mqtt_shared_group
        return [f"$share/{group}/{f}" for f in filters] if group else filters

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection: %s", reason)
            return
        with self._lock:
            self._session += 1
            self._connected = True
        # Status is not shared: every ingest process keeps the gateway status (an idempotent HSET),
        # and brokers do not send retained messages to shared subscriptions.
        client.subscribe([*((f, QOS) for f in self._readings_filters()), (STATUS_FILTER, QOS)])
        log.info("connected to the broker (session resumed: %s)", bool(flags.session_present))

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._lock:
            was = self._connected
            self._connected = False
        if was and not self._stopping.is_set():
            log.warning("lost the broker (%s); reconnecting", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(_Inbound(msg.mid, msg.qos, msg.topic, bytes(msg.payload), self._session))

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def stats(self) -> IngestStats:
        with self._lock:
            return replace(self._stats, queued=self._queue.qsize(), by_outcome=dict(self._stats.by_outcome))

    @property
    def storing(self) -> bool:
        """The storage thread is alive (after stop(): it did not finish within the timeout)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Connect in the background (paho retries with backoff) and start storing."""
        if self.storing:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._storage_loop, name="ingest-storage", daemon=True)
        self._thread.start()
        url = urlparse(self._settings.mqtt_url)
        default_port = 8883 if url.scheme == "mqtts" else 1883
        self._client.connect_async(url.hostname or "localhost", url.port or default_port, keepalive=30)
        self._client.loop_start()

    def stop(self, timeout: float = 10.0) -> None:
        """Store and acknowledge what is queued (up to `timeout`), then disconnect.

        What is still unacknowledged when the time is up stays with the broker's session and is
        delivered again on the next start: nothing is lost.
        """
        self._give_up_at = time.monotonic() + timeout * 0.8
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("storage still busy after %.1f s; its messages stay unacknowledged", timeout)
        self._client.disconnect()
        self._client.loop_stop()
        with self._lock:
            self._connected = False

    # -- storage thread -----------------------------------------------------------------------
    def _next_batch(self) -> list[_Inbound]:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self._linger_s
        while len(batch) < self._batch_max:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            batch.append(item)
        return batch

    def _storage_loop(self) -> None:
        while True:
            batch = self._next_batch()
            if not batch:
                if self._stopping.is_set():
                    return
                continue
            if not self._store_until_done(batch):
                return  # stopping while Redis is away: leave the batch unacknowledged
            self._ack(batch)

    def _store_until_done(self, batch: list[_Inbound]) -> bool:
        checked = [check(m.topic, m.payload) for m in batch]
        backoff = 0.05
        while True:
            try:
                stored = store_checked(self._store, checked)
            except redis.RedisError as exc:  # away, or refusing even single messages: retry later
                self._note_redis_down(exc)
            else:
                if self._redis_down:
                    log.info("redis reachable again; ingest resumes")
                    self._redis_down = False
                self._count([s.outcome for s in stored])
                return True
            if self._stopping.is_set():
                remaining = self._give_up_at - time.monotonic()
                if remaining <= 0:
                    return False
                time.sleep(min(backoff, remaining))
            else:
                self._stopping.wait(backoff)  # stop() cuts the wait short
            backoff = min(backoff * 2, 2.0)

    def _note_redis_down(self, exc: Exception) -> None:
        with self._lock:
            self._stats = replace(self._stats, storage_errors=self._stats.storage_errors + 1)
        if not self._redis_down:
            log.warning("redis unavailable (%s); holding acknowledgements and retrying", type(exc).__name__)
            self._redis_down = True

    def _count(self, outcomes: list[Outcome]) -> None:
        with self._lock:
            s = self._stats
            by = dict(s.by_outcome)
            for o in outcomes:
                by[o.value] = by.get(o.value, 0) + 1
            self._stats = replace(
                s,
                received=s.received + len(outcomes),
                stored=s.stored + outcomes.count(Outcome.STORED),
                duplicates=s.duplicates + outcomes.count(Outcome.DUPLICATE),
                dead_lettered=s.dead_lettered + outcomes.count(Outcome.DEAD_LETTERED),
                statuses=s.statuses + outcomes.count(Outcome.STATUS),
                batches=s.batches + 1,
                by_outcome=by,
            )

    def _ack(self, batch: list[_Inbound]) -> None:
        with self._lock:
            current = self._session if self._connected else -1
        acked = 0
        for m in batch:
            if m.session == current:
                self._client.ack(m.mid, m.qos)
                acked += 1
        with self._lock:
            self._stats = replace(self._stats, acked=self._stats.acked + acked)
