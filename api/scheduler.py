"""The time-based alert rules, run every few seconds whether or not a reading arrives (issue 4, point 7).

Per tick, for every ward and each of its patients (api/patient_context.py reads them in pipelined
batches), against stored state and the ward's configuration (api/ward_config.py):

- **missed readings** (§1.8, local ladder): `alerting.schedule.overdue` from the plan's schedule
  (else the ward's) and the plan's overdue ladder (else the ward's), the enrolment time and the last
  valid reading's measured time;
- **technical** (§5.3 item 3, local thresholds): gateway offline from the retained status of the
  gateway that sent the patient's newest reading (keys.gateway_status), stale data for patients on
  continuous monitoring, battery low when the gateway reports a device's `battery` level (%);
- **escalation** (§5.2): `alerting.escalation.due_escalations` over the open alerts; every step is
  recorded as an `escalated` event with its tier, and notified.
- **retention**: once an hour, every known patient's reading history, de-duplication ids and chart
  minutes are trimmed to the retention window (api/retention.py), for patients whose readings stopped.

Each patient's changes are one `save` (api/lua/alerts.lua) that carries what it read, so a
clinician's acknowledgement racing a tick is never overwritten: the save is refused and the next
tick sees the acknowledgement. Only one process acts at a time: a lease (keys.SCHEDULER_LEASE,
SET NX PX, renewed each tick by its holder) elects it; another process takes over when it lapses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from alerting.escalation import apply_escalation, due_escalations
from alerting.results import RuleResult
from alerting.schedule import battery_low, gateway_offline, overdue, parse_schedule, stale_data
from api import keys
from api.alert_engine import Change, Step, latch_for
from api.alert_record import cause_of, to_alert
from api.alert_store import SyncAlertStore, text
from api.patient_context import PatientContext, WardConfigs, load_many
from api.retention import SWEEP_EVERY, RetentionSweep
from api.settings import ApiSettings
from api.store import TRANSIENT, connect

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 5.0
BATCH = 200
_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass
class TickStats:
    leader: bool = False
    patients: int = 0
    saved: int = 0
    conflicts: int = 0
    events: dict[str, int] = field(default_factory=dict)
    #: History entries the retention sweep removed (it runs once per SWEEP_EVERY).
    trimmed: int = 0


def _gateway(status: dict[str, str]) -> tuple[bool, datetime, list[dict[str, Any]]] | None:
    """(online, since, devices) from a keys.gateway_status hash; None when it holds no status."""
    state = status.get("state")
    since = status.get("at") or status.get("received_at")
    if state is None or not since:
        return None
    try:
        devices = json.loads(status["devices"]) if status.get("devices") else []
    except ValueError:
        devices = []
    return state == "online", datetime.fromisoformat(since), devices if isinstance(devices, list) else []


def time_rules(ctx: PatientContext, status: dict[str, str] | None, now: datetime) -> list[RuleResult]:
    """The missed-reading and technical rules' results for one patient at `now`."""
    plan, config = ctx.plan, ctx.config
    results: list[RuleResult] = []
    since = ctx.enrolled_at
    ladder = plan.overdue or config.overdue
    times = parse_schedule(plan.schedule or config.schedule)
    if since is not None and ladder is not None and times:
        last_valid = ctx.moment("last_valid_at")
        results.append(
            overdue(
                times=times,
                tz=config.tz,
                ladder=ladder,
                monitoring_since=since,
                last_valid_at=last_valid,
                now=now,
            )
        )
    policy = config.technical
    if policy is None:
        return results
    gateway = None if status is None else _gateway(status)
    if gateway is not None:
        online, down_since, devices = gateway
        results.append(gateway_offline(online=online, since=down_since, now=now, policy=policy))
        device = ctx.state.get("device", "").upper()
        entry = next(
            (d for d in devices if isinstance(d, dict) and str(d.get("address", "")).upper() == device), None
        )
        level = None if entry is None else entry.get("battery")
        if isinstance(level, int | float) and not isinstance(level, bool):
            results.append(battery_low(level_percent=float(level), measured_at=down_since, policy=policy))
    if since is not None and ctx.state.get("mode") == "continuous":
        last = ctx.moment("last_valid_at")
        results.append(stale_data(last_reading_at=last, monitoring_since=since, now=now, policy=policy))
    return results


def patient_change(ctx: PatientContext, status: dict[str, str] | None, now: datetime) -> Change | None:
    """Everything the time-based rules change for one patient now, or None when nothing changes."""
    if ctx.discharged:
        return None
    step = Step(ctx.alerts, now, touch=False)
    for result in time_rules(ctx, status, now):
        step.apply(result, latch_for(result.rule, ctx.config.latch_from), cause_of(result, None, None))
    ladder = ctx.config.escalation
    if ladder is not None:
        records = {r["alert_id"]: r for r in ctx.alerts.records()}
        alerts = [to_alert(r) for r in records.values()]
        for esc in due_escalations(alerts, ladder, now):
            base = records[esc.alert_id]
            current = to_alert(base)
            step.change.expect.setdefault(current.rule, ctx.alerts.raw(current.rule))
            step.take(base, current, apply_escalation(current, esc), None)
    return step.change if step.change.alerts else None


class AlertScheduler:
    """Run with start()/stop(), or call tick() with an injected clock (tests)."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        client: redis.Redis | None = None,
        clock: Callable[[], datetime] | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        lease_ms: int | None = None,
    ) -> None:
        self.owner = f"{settings.worker_name}:{uuid.uuid4().hex[:12]}"
        self._r = client or connect(settings.redis_url)
        self._store = SyncAlertStore(self._r)
        self._configs = WardConfigs()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._interval = interval_s
        # The lease outlives a few missed ticks, so a slow tick does not hand over needlessly.
        self._lease_ms = lease_ms if lease_ms is not None else int(interval_s * 3000)
        self._acquire = self._r.register_script(_ACQUIRE)
        self._release = self._r.register_script(_RELEASE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sweep = RetentionSweep(self._r, int(settings.retention_hours * 3_600_000))
        self._next_sweep: datetime | None = None  # the first leader tick sweeps

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"sched-{self.owner}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
            self.release()

    def release(self) -> None:
        """Hand the lease back at once (else it lapses by itself), so another process takes over."""
        with contextlib.suppress(redis.RedisError):
            self._release(keys=[keys.SCHEDULER_LEASE], args=[self.owner])

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # Redis away or a bug: keep ticking; alerts must not stop for good
                log.warning("scheduler tick failed (%s); retrying", type(exc).__name__)
                log.debug("scheduler tick failure", exc_info=exc)
            self._stop.wait(self._interval)

    def is_leader(self) -> bool:
        """Take or renew the lease; True when this scheduler holds it."""
        return bool(self._acquire(keys=[keys.SCHEDULER_LEASE], args=[self.owner, self._lease_ms]))

    def tick(self) -> TickStats:
        """One pass over every ward, if this scheduler holds the lease."""
        stats = TickStats()
        if not self.is_leader():
            return stats
        stats.leader = True
        now = self._clock()
        if self._next_sweep is None or now >= self._next_sweep:
            stats.trimmed = self._sweep.run()
            self._next_sweep = now + SWEEP_EVERY
        for ward in sorted(text(w) for w in self._r.smembers(keys.wards())):
            members = sorted(text(p) for p in self._r.smembers(keys.ward_patients(ward)))
            for start in range(0, len(members), BATCH):
                self._batch(members[start : start + BATCH], now, stats)
        return stats

    def _batch(self, patient_ids: list[str], now: datetime, stats: TickStats) -> None:
        contexts = load_many(self._r, self._store, patient_ids, self._configs, manual=False)
        ready = [c for c in contexts.values() if isinstance(c, PatientContext)]
        gateways = sorted({c.state["gateway"] for c in ready if c.state.get("gateway")})
        pipe = self._r.pipeline(transaction=False)
        for gw in gateways:
            pipe.hgetall(keys.gateway_status(gw))
        statuses = {
            gw: {text(k): text(v) for k, v in raw.items()}
            for gw, raw in zip(gateways, pipe.execute(), strict=True)
        }
        changes: list[Change] = []
        for ctx in ready:
            stats.patients += 1
            try:
                change = patient_change(ctx, statuses.get(ctx.state.get("gateway", "")), now)
            except ValueError as err:  # e.g. a ward schedule a newer release refuses: skip, say so
                log.error("time-based rules failed for a patient: %s", type(err).__name__)
                continue
            if change is not None:
                changes.append(change)
        for change, result in zip(changes, self._store.save_many(changes) if changes else [], strict=True):
            if isinstance(result, TRANSIENT):
                raise result
            if result == "ok":
                stats.saved += 1
                for kind in change.kinds:
                    stats.events[kind] = stats.events.get(kind, 0) + 1
            else:
                stats.conflicts += 1
