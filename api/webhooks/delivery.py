"""The webhook delivery worker: a thread that pumps events into the outbox, fans each out to the
subscriptions that want it, POSTs it signed, retries with exponential backoff, then dead-letters.

Flow (keys in api/webhooks/keys.py, event sources in api/webhooks/sources.py):

1. alert events and new readings -> ``ox:webhook:outbox`` (at-least-once, deterministic event ids);
2. consumer group FANOUT_GROUP reads the outbox; for every active subscription whose events and
   wards match (wards re-checked against the owner's *current* grants, api/security), one
   attempt is made at once; the outbox entry is acknowledged after every attempt was made or
   scheduled;
3. a failed attempt (no answer within ``timeout_s``, or any status but 2xx; redirects are not
   followed) is put in ``ox:webhook:retry`` due after ``base_delay_s * 2**(attempt-1)`` (capped
   at ``max_delay_s``, ±10% jitter so receivers coming back are not hit in lockstep:
   api/retry_schedule.py);
4. after ``max_attempts`` the delivery goes to the subscription's dead-letter stream, readable at
   ``GET /v1/webhooks/{id}/dead-letters``; at once when the URL's host now resolves to an address
   the target policy refuses (api/webhooks/targets.py), with the reason as its error.

Every attempt that sent the event (all but those the target policy refused) appends an audit
entry in the same pipeline as its bookkeeping: a disclosure by the subscription's owner of the
patient the event is about (api/security/audit.py `disclosure`; never the URL, secret or body).

Every process may run one worker: the outbox group and ZREM-claimed retries split the work, and
only the READING_LOCK holder tails readings. Attempts are made one at a time per worker: a slow
receiver delays others by at most ``timeout_s`` per attempt.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from api import keys
from api.delivery_loop import PassThread, claim_due
from api.registry import iso_utc, text
from api.retry_schedule import Backoff
from api.security import audit
from api.security.principal import effective_wards
from api.security.roles import Role
from api.webhooks import keys as wkeys
from api.webhooks import sources
from api.webhooks.http import post
from api.webhooks.signing import HEADER, header_value
from api.webhooks.targets import TargetPolicy, TargetRefused

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    url: str
    events: frozenset[str]
    wards: frozenset[str] | None  # None: every ward the owner sees
    owner: str
    secret: str


@dataclass(frozen=True, slots=True)
class Job:
    subscription_id: str
    delivery_id: str
    event_id: str
    event_type: str
    body: str
    attempt: int

    def encode(self) -> str:
        return json.dumps(
            [self.subscription_id, self.delivery_id, self.event_id, self.event_type, self.body, self.attempt]
        )

    @classmethod
    def decode(cls, raw: str) -> Job:
        sid, did, eid, kind, body, attempt = json.loads(raw)
        return cls(sid, did, eid, kind, body, int(attempt))


class WebhookDelivery:
    """Run with start()/stop(), or call run_once() to do one pass deterministically (tests)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        name: str = "webhooks-0",
        base_delay_s: float = 10.0,
        max_delay_s: float = 3600.0,
        max_attempts: int = 10,
        timeout_s: float = 5.0,
        poll_s: float = 0.5,
        clock: Callable[[], datetime] | None = None,
        targets: TargetPolicy | None = None,
    ) -> None:
        self._r = client
        self._targets = targets or TargetPolicy()
        self.name = name
        self._backoff, self._max_attempts = Backoff(base_delay_s, max_delay_s), max_attempts
        self._timeout = timeout_s
        self._clock = clock or (lambda: datetime.now(UTC))
        self._thread = PassThread(self.run_once, self._failed, name=f"webhooks-{name}", poll_s=poll_s)
        self._pending_alerts = True
        self._groups_ready = False

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._thread.stop(timeout)

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, redis.RedisError):
            self._groups_ready = False  # a restarted Redis without persistence lost them
            log.warning("webhook delivery: redis unavailable (%s); retrying", type(exc).__name__)
            return
        log.error("webhook delivery pass failed (%s); retrying", type(exc).__name__)
        log.debug("webhook delivery failure", exc_info=exc)

    # -- one pass -------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Pump sources, fan out the outbox, attempt due retries; returns the work done."""
        if not self._groups_ready:
            sources.ensure_groups(self._r)
            self._groups_ready = True
        now = self._clock()
        subs = self._subscriptions()
        work = sources.pump_alerts(self._r, self.name, now, self._pending_alerts)
        self._pending_alerts = self._pending_alerts and work > 0
        if any("reading.created" in s.events for s in subs):
            work += sources.pump_readings(self._r, self.name, now)
        work += self._fan_out(subs)
        work += self._retry_due(subs)
        return work

    def _subscriptions(self) -> list[Subscription]:
        raw_ids: list[Any] = self._r.zrange(wkeys.INDEX, 0, -1)
        ids = [text(i) for i in raw_ids]
        pipe = self._r.pipeline(transaction=False)
        for sid in ids:
            pipe.hgetall(wkeys.subscription(sid))
        out = []
        for sid, raw in zip(ids, pipe.execute(), strict=True):
            f = {text(k): text(v) for k, v in raw.items()}
            if f.get("active") != "1" or "url" not in f:
                continue
            wards = None if f.get("wards", "*") == "*" else frozenset(w for w in f["wards"].split(",") if w)
            events = frozenset(e for e in f.get("events", "").split(",") if e)
            out.append(Subscription(sid, f["url"], events, wards, f.get("owner", ""), f.get("secret", "")))
        return out

    def _owner_wards(self, owner: str) -> frozenset[str] | bool | None:
        """The wards the owner sees now: None = all; False = the owner is gone or disabled."""
        if owner.startswith("bootstrap:"):
            return None
        raw: dict[Any, Any] = self._r.hgetall(keys.principal(owner))
        f = {text(k): text(v) for k, v in raw.items()}
        if "role" not in f or f.get("disabled") == "1":
            return False
        return effective_wards(Role(f["role"]), frozenset(w for w in f.get("wards", "").split(",") if w))

    def _wants(self, sub: Subscription, kind: str, ward: str, target: str) -> bool:
        if target:
            return target == sub.subscription_id
        if kind not in sub.events:
            return False
        if sub.wards is not None and ward not in sub.wards:
            return False
        seen = self._owner_wards(sub.owner)
        if isinstance(seen, frozenset):
            return ward in seen
        return seen is None

    def _fan_out(self, subs: list[Subscription]) -> int:
        reply = self._r.xreadgroup(wkeys.FANOUT_GROUP, self.name, {wkeys.OUTBOX: ">"}, count=50)
        rows = sources._rows(reply)
        for _, eid, f in rows:
            for sub in subs:
                if self._wants(sub, f.get("type", ""), f.get("ward", ""), f.get("sub", "")):
                    job = Job(sub.subscription_id, uuid.uuid4().hex, f["id"], f["type"], f["body"], 1)
                    self._attempt(job, sub)
            pipe = self._r.pipeline(transaction=False)
            pipe.xack(wkeys.OUTBOX, wkeys.FANOUT_GROUP, eid)
            pipe.xdel(wkeys.OUTBOX, eid)
            pipe.execute()
        return len(rows)

    def _retry_due(self, subs: list[Subscription]) -> int:
        done = 0
        for member in claim_due(self._r, wkeys.RETRY, int(time.time() * 1000)):
            job = Job.decode(member)
            sub = next((s for s in subs if s.subscription_id == job.subscription_id), None)
            if sub is not None:  # deleted or paused meanwhile: the delivery is dropped
                self._attempt(job, sub)
            done += 1
        return done

    # -- one attempt ----------------------------------------------------------------------------
    def _disclosure(self, job: Job, sub: Subscription, status: int) -> dict[str, str]:
        data = json.loads(job.body).get("data") or {}
        if sub.owner.startswith("bootstrap:"):
            role = Role.ADMINISTRATOR.value
        else:
            role = text(self._r.hget(keys.principal(sub.owner), "role") or "")
        ids = {"subscription_id": sub.subscription_id, "event_id": job.event_id}
        ids |= {"delivery_id": job.delivery_id, "attempt": str(job.attempt)}
        return audit.disclosure(
            owner=sub.owner,
            role=role,
            event_type=job.event_type,
            patient_id=data.get("patient_id"),
            ward_id=data.get("ward_id"),
            status=status,
            ids=ids,
        )

    def _attempt(self, job: Job, sub: Subscription) -> None:
        body = job.body.encode("utf-8")
        headers = {
            HEADER: header_value(sub.secret, int(time.time()), body),
            "Oxiward-Event": job.event_type,
            "Oxiward-Event-Id": job.event_id,
            "Oxiward-Delivery": job.delivery_id,
            "Oxiward-Delivery-Attempt": str(job.attempt),
        }
        sent = True
        try:
            status, error = post(sub.url, body, headers, self._timeout, self._targets)
            final = job.attempt >= self._max_attempts
        except TargetRefused as exc:  # retrying cannot help until the operator or DNS changes
            status, error, final, sent = 0, f"refused: {exc}", True, False
        at = iso_utc(self._clock())
        key = wkeys.subscription(sub.subscription_id)
        pipe = self._r.pipeline(transaction=False)
        if sent:  # the event may have reached the receiver (even unanswered): audit the disclosure
            audit.queue_append(pipe, self._disclosure(job, sub, status))
        pipe.hset(key, mapping={"last_status": str(status)})
        if 200 <= status < 300:
            pipe.hincrby(key, "delivered", 1)
            pipe.hset(key, "last_success_at", at)
            pipe.hincrby(keys.METRICS, "webhook:delivered", 1)
            pipe.execute()
            return
        pipe.hincrby(key, "failed", 1)
        pipe.hset(key, "last_failure_at", at)
        # oxiward_delivery_failures_total{channel="integrator-webhook"} (rota webhooks: rota-webhook)
        pipe.hincrby(keys.METRICS, "delivery_failed:integrator-webhook", 1)
        if final:
            fields = {"event_id": job.event_id, "type": job.event_type, "attempts": str(job.attempt)}
            fields |= {"last_status": str(status), "last_error": error, "at": at, "body": job.body}
            pipe.xadd(
                wkeys.dead_letters(sub.subscription_id),
                dict[Any, Any](fields),
                maxlen=10_000,
                approximate=True,
            )
            pipe.hincrby(key, "dead_lettered", 1)
            pipe.hincrby(keys.METRICS, "webhook:dead_lettered", 1)
            log.warning("webhook delivery dead-lettered after %d attempts (%s)", job.attempt, error)
        else:
            retry = Job(
                job.subscription_id, job.delivery_id, job.event_id, job.event_type, job.body, job.attempt + 1
            )
            pipe.zadd(wkeys.RETRY, {retry.encode(): self._backoff.due_ms(job.attempt, time.time())})
        pipe.execute()
