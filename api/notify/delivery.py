"""The notification delivery worker: every alert notification reaches the rota's people, or says why not.

Flow (keys in api/notify/keys.py; the rota in api/notify/rota.py):

1. consumer group GROUP reads every shard's keys.notifications stream; for each notification the
   patient's ward and `ref` are looked up and the ward's rota gives the recipients of the
   notification's tier; one delivery per recipient channel, recorded in keys.delivery(id) and listed
   under keys.alert_deliveries(alert id); the ward's MQTT topic gets it too when enabled;
2. an attempt ends `delivered` (webhook 2xx; MQTT PUBACK), `sent` (apprise took it; it cannot tell
   more) or failed; a failed one is retried after ``base_delay_s * 2**(attempt-1)`` (capped, ±10%
   jitter: api/retry_schedule.py), due at the delivery's `next_attempt_at` -- or dropped as
   `cancelled` when the alert has been acknowledged or resolved meanwhile;
3. after ``max_attempts`` it is `dead-lettered` (keys.DEAD) and a technical alert is raised on the
   patient (api/notify/technical.py);
4. a webhook receiver may POST the delivery's accept token back: the alert is acknowledged as the
   recipient and the delivery becomes `accepted` (api/notify/accept.py). An alert nobody accepts is
   escalated by the scheduler's ladder, which notifies the next tier: step 1 again;
5. every message carries the delivery's tracked link (api/notify/receipts.py): following it records
   the delivery `read`. Statuses only move forward (api/notify/status.py).

Notifications that do not page (late data, good news: `page` false, §6.2.5) go to machines (webhooks,
MQTT) but never to people's phones and inboxes. The notification entry is acknowledged once every
delivery was attempted or scheduled (at-least-once: a crash in between sends it again).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis

from api import keys
from api.alert_store import SyncAlertStore, text
from api.delivery_loop import PassThread, claim_due, ensure_group
from api.notify import keys as nkeys
from api.notify import message, status, tokens
from api.notify.channels import FAILED, send_apprise, send_webhook
from api.notify.mqtt_channel import MqttPublisher
from api.notify.rota import MQTT_TOPIC, Channel, ChannelKind, Privacy, rota_from_raw
from api.notify.technical import raise_delivery_failed
from api.registry import iso_utc
from api.retry_schedule import Backoff
from api.webhooks.sources import _rows
from api.webhooks.targets import TargetPolicy

log = logging.getLogger(__name__)
ACCEPT_PATH = "/v1/alerts/deliveries/{delivery_id}/accept"
#: `oxiward_delivery_failures_total{channel}` labels that differ from the rota's channel kind: the
#: integrators' webhooks (api/webhooks/delivery.py) count as `integrator-webhook`, so the two
#: kinds of receiver (on-call people's vs. integrated systems') can be told apart and alerted on.
_METRIC_CHANNEL = {ChannelKind.WEBHOOK.value: "rota-webhook"}


class NotificationDelivery:
    """Run with start()/stop(), or call run_once() for one deterministic pass (tests)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        name: str = "notify-0",
        link_base: str = "",
        base_delay_s: float = 10.0,
        max_delay_s: float = 600.0,
        max_attempts: int = 6,
        timeout_s: float = 5.0,
        poll_s: float = 0.5,
        mqtt: MqttPublisher | None = None,
        clock: Callable[[], datetime] | None = None,
        targets: TargetPolicy | None = None,
    ) -> None:
        self._r = client
        self._store = SyncAlertStore(client)
        self.name = name
        self._link = link_base
        self._backoff, self._max_attempts = Backoff(base_delay_s, max_delay_s), max_attempts
        self._timeout = timeout_s
        self._mqtt = mqtt
        self._targets = targets or TargetPolicy()  # where webhooks and apprise go: api/webhooks/targets.py
        self._clock = clock or (lambda: datetime.now(UTC))
        self._thread = PassThread(self.run_once, self._failed, name=f"notify-{name}", poll_s=poll_s)
        self._pending_first = True
        self._grouped = False

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._thread.stop(timeout)
        if self._mqtt is not None:
            self._mqtt.close()

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, redis.RedisError):
            self._grouped = False  # a Redis restarted without persistence lost the groups: NOGROUP
        log.warning("notification delivery pass failed (%s); retrying", type(exc).__name__)
        log.debug("notification delivery failure", exc_info=exc)

    # -- one pass -------------------------------------------------------------------------------
    def run_once(self) -> int:
        if not self._grouped:
            for shard in range(keys.SHARDS):
                ensure_group(self._r, keys.notifications(shard), nkeys.GROUP, "0")
            self._grouped = True
        # After a restart our own unacknowledged entries ("0") come first, then new ones (">").
        start = "0" if self._pending_first else ">"
        streams = {keys.notifications(s): start for s in range(keys.SHARDS)}
        rows = _rows(self._r.xreadgroup(nkeys.GROUP, self.name, dict[Any, Any](streams), count=50))
        if not rows:
            self._pending_first = False
        for stream, eid, fields in rows:
            self._fan_out(fields)
            self._r.xack(stream, nkeys.GROUP, eid)
        return len(rows) + self._retry_due()

    def _context(self, f: dict[str, str]) -> message.Context | None:
        pid = f.get("patient_id", "")
        ward, ref = self._r.hmget(keys.patient(pid), ["ward", "ref"])
        if ward is None:
            return None
        return message.Context(
            alert_id=f.get("alert_id", ""),
            patient_id=pid,
            ward=text(ward),
            ref=text(ref) if ref is not None else "",
            priority=f.get("priority", ""),
            kind=f.get("kind", ""),
            tier=int(f.get("tier", "0")),
            at=f.get("at", ""),
            page=f.get("page", "true") == "true",
            rule=f.get("rule", ""),
            late=f.get("late") == "true",
            questionable=f.get("questionable") == "true",
        )

    def _fan_out(self, f: dict[str, str]) -> None:
        ctx = self._context(f)
        if ctx is None:  # discharged and removed meanwhile: nobody on a ward to tell
            log.info("notification for a patient no longer on a ward; not delivered")
            return
        rota = rota_from_raw(self._r.get(nkeys.rota(ctx.ward)))
        if rota.mqtt is not None:
            self._deliver(ctx, "", "mqtt", {"url": "", "secret": "", "privacy": rota.mqtt.value})
        for person in rota.recipients(ctx.tier):
            for channel in person.channels:
                if channel.kind is ChannelKind.APPRISE and not ctx.page:
                    continue  # people's phones are for what needs them now (module docstring)
                target = {"url": channel.url, "secret": channel.secret, "privacy": channel.privacy.value}
                self._deliver(ctx, person.name, channel.kind.value, target)

    def _deliver(self, ctx: message.Context, recipient: str, channel: str, target: dict[str, str]) -> None:
        did = uuid.uuid4().hex
        at = iso_utc(self._clock())
        record = {
            "delivery_id": did,
            "alert_id": ctx.alert_id,
            "patient_id": ctx.patient_id,
            "ward": ctx.ward,
            "tier": str(ctx.tier),
            "kind": ctx.kind,
            "recipient": recipient,
            "channel": channel,
            "status": "pending",
            "attempts": "0",
            "created_at": at,
            "ctx": json.dumps(_ctx_dict(ctx)),
            # What to send to, as the rota said when the notification came (Redis holds the rota's
            # secrets already; the API never shows this field).
            "target": json.dumps(target),
        }
        pipe = self._r.pipeline(transaction=False)
        pipe.hset(nkeys.delivery(did), mapping=dict[Any, Any](record))
        pipe.expire(nkeys.delivery(did), nkeys.DELIVERY_TTL_S)
        pipe.rpush(nkeys.alert_deliveries(ctx.alert_id), did)
        pipe.expire(nkeys.alert_deliveries(ctx.alert_id), nkeys.DELIVERY_TTL_S)
        pipe.execute()
        self._attempt(did, 1)

    def _retry_due(self) -> int:
        done = 0
        for member in claim_due(self._r, nkeys.RETRY, int(time.time() * 1000)):
            did, _, attempt = member.partition(":")
            self._attempt(did, int(attempt))
            done += 1
        return done

    # -- one attempt ----------------------------------------------------------------------------
    def _attempt(self, did: str, attempt: int) -> None:
        f = {text(k): text(v) for k, v in self._r.hgetall(nkeys.delivery(did)).items()}
        if not f or f.get("status") not in status.ATTEMPTABLE:
            return  # expired, or read / accepted meanwhile: the message arrived after all
        ctx = message.Context(**json.loads(f["ctx"]))
        if attempt > 1 and self._handled(ctx):
            cancelled = {"updated_at": self._now()}
            status.move_sync(self._r, did, "cancelled", status.ATTEMPTABLE, fields=cancelled)
            return
        target = json.loads(f["target"])
        channel = f["channel"]
        outcome, error = self._send(ctx, channel, target, did, attempt)
        now = self._now()
        fields = {"attempts": str(attempt), "updated_at": now, "last_error": error, "next_attempt_at": ""}
        if outcome != FAILED:
            stamp = (f"{outcome}_at", now)
            status.move_sync(self._r, did, outcome, status.ATTEMPTABLE, stamp=stamp, fields=fields)
            self._r.hincrby(keys.METRICS, f"notify:{outcome}", 1)
            return
        self._r.hincrby(keys.METRICS, f"delivery_failed:{_METRIC_CHANNEL.get(channel, channel)}", 1)
        if attempt < self._max_attempts:
            # Retries are due by the wall clock (the retry queue is polled with it).
            due = self._backoff.due_ms(attempt, time.time())
            fields["next_attempt_at"] = iso_utc(datetime.fromtimestamp(due / 1000, UTC))
            # Moved unless the link was followed during the attempt (then no retry is needed).
            if status.move_sync(self._r, did, "retrying", status.ATTEMPTABLE, fields=fields) == 1:
                self._r.zadd(nkeys.RETRY, {f"{did}:{attempt + 1}": due})
            return
        if status.move_sync(self._r, did, "dead-lettered", status.ATTEMPTABLE, fields=fields) != 1:
            return
        dead = {"delivery_id": did, "alert_id": ctx.alert_id, "channel": channel, "attempts": str(attempt)}
        self._r.xadd(nkeys.DEAD, dict[Any, Any](dead | {"last_error": error, "at": now}), maxlen=10_000)
        log.warning("%s notification dead-lettered after %d attempts (%s)", channel, attempt, error)
        raise_delivery_failed(self._store, ctx.patient_id, channel, self._clock())

    def _send(
        self, ctx: message.Context, channel: str, target: dict[str, str], did: str, attempt: int
    ) -> tuple[str, str]:
        privacy = Privacy(target["privacy"])
        # Every message carries the delivery's tracked link: following it records `read`.
        token = tokens.token(tokens.load_key(self._r), did)
        link = message.tracked_link(self._link, did, token)
        if channel == "mqtt":
            if self._mqtt is None:
                return FAILED, "no MQTT broker configured for the service"
            payload = json.dumps(message.body(ctx, privacy, link)).encode("utf-8")
            ok, error = self._mqtt.publish(MQTT_TOPIC.format(ward=ctx.ward), payload, self._timeout)
            return ("delivered", "") if ok else (FAILED, error)
        chan = Channel(ChannelKind(channel), target["url"], target["secret"], privacy)
        if chan.kind is ChannelKind.WEBHOOK:
            body = message.body(ctx, privacy, link) | {"delivery_id": did}
            body["accept"] = {"path": ACCEPT_PATH.format(delivery_id=did), "token": token}
            return send_webhook(chan, body, did, attempt, self._timeout, self._targets)
        title, content = message.text(ctx, privacy, link)
        return send_apprise(chan, title, content, self._targets)

    def _handled(self, ctx: message.Context) -> bool:
        raw = self._r.hget(keys.alerts(ctx.patient_id), ctx.alert_id)
        return raw is not None and json.loads(raw).get("state") in ("acknowledged", "resolved")

    def _now(self) -> str:
        return iso_utc(self._clock())


def _ctx_dict(ctx: message.Context) -> dict[str, Any]:
    return {name: getattr(ctx, name) for name in message.Context.__dataclass_fields__}
