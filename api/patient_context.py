"""Everything the rules need about a patient besides the reading, read from Redis in one round trip.

Per patient (pipelined for a batch): the open alerts (api/lua/alerts.lua `open`), the alerting state
(keys.alerting_state: continuous-mode state, last valid reading, gateway), the care plan
(api/careplans.py), recent manual observations (the `<patient>:manual` stream of
api/resources/observations.py) and the patient hash (ward, enrolment, discharge); for an entry a
manual observation queued, the latest reading too (keys.latest, `latest_readings`). Ward
configurations (api/ward_config.py) are cached for a few seconds: a change takes effect within
`WARD_CACHE_S`. Used by the evaluation worker and the scheduler (sync redis-py threads).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from alerting.careplan import CarePlan
from alerting.continuous import ContinuousState
from alerting.manual import ManualObservation, ManualParameter
from api import keys
from api.alert_engine import PatientAlerts
from api.alert_store import SyncAlertStore, text
from api.careplans import plan_from_raw
from api.resources import keys as rkeys
from api.store import TRANSIENT
from api.ward_config import DEFAULT, WardConfig, config_from_raw

log = logging.getLogger(__name__)

#: Manual observations read per patient, newest first: at 4-hourly NEWS2 observations (Chart 4,
#: §2.4) of five parameters this covers days, far beyond the 12 h freshness limit.
MANUAL_WINDOW = 200
WARD_CACHE_S = 5.0
_MANUAL = {p.value: p for p in ManualParameter}


@dataclass
class PatientContext:
    patient_id: str
    ward_id: str | None
    enrolled_at: datetime | None
    discharged: bool
    plan: CarePlan
    config: WardConfig
    manual: tuple[ManualObservation, ...]
    #: (measured at, on oxygen) from manual `oxygen` observations (air / oxygen, §2.1), oldest first.
    oxygen: tuple[tuple[datetime, bool], ...]
    #: keys.alerting_state(pid) as read; the worker updates it as it applies readings.
    state: dict[str, str]
    alerts: PatientAlerts

    def on_oxygen_at(self, at: datetime) -> bool | None:
        """The oxygen status recorded most recently before `at`, if fresh; None: the plan's default."""
        oldest = at - timedelta(seconds=self.plan.manual_max_age_s)
        found = [on for when, on in self.oxygen if oldest <= when <= at]
        return found[-1] if found else None

    def continuous(self) -> ContinuousState | None:
        raw = self.state.get("continuous")
        return None if not raw else ContinuousState.from_dict(_json(raw))

    def moment(self, name: str) -> datetime | None:
        raw = self.state.get(name)
        return None if not raw else datetime.fromisoformat(raw)


def _json(raw: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(raw)
    return value


def manual_entries(rows: Any) -> tuple[tuple[ManualObservation, ...], tuple[tuple[datetime, bool], ...]]:
    """Stream rows (any order) -> NEWS2 observations and the oxygen timeline, oldest first."""
    manual: list[ManualObservation] = []
    oxygen: list[tuple[datetime, bool]] = []
    for _, raw_fields in rows or []:
        f = {text(k): text(v) for k, v in raw_fields.items()}
        try:
            at = datetime.fromtimestamp(int(f["m"]) / 1000, tz=UTC)
            parameter = f["pm"]
            if parameter == "oxygen":
                oxygen.append((at, f["v"] == "oxygen"))
            elif parameter in _MANUAL:
                kind = _MANUAL[parameter]
                value: float | str = f["v"] if kind is ManualParameter.CONSCIOUSNESS else float(f["v"])
                manual.append(ManualObservation(kind, value, at))
        except (KeyError, ValueError):
            # Validated on entry (api/resources/observations.py): only a hand-edited entry lands here.
            log.warning("a manual observation entry could not be read; it is left out of NEWS2")
    manual.sort(key=lambda m: m.measured_at)
    oxygen.sort()
    return tuple(manual), tuple(oxygen)


class WardConfigs:
    """Ward configurations, cached for WARD_CACHE_S (one GET per ward and period)."""

    def __init__(self, ttl_s: float = WARD_CACHE_S) -> None:
        self._ttl = ttl_s
        self._cache: dict[str, tuple[WardConfig, float]] = {}

    def get_many(self, client: redis.Redis, wards: Sequence[str]) -> dict[str, WardConfig]:
        now = time.monotonic()
        found = {w: hit[0] for w in wards if (hit := self._cache.get(w)) is not None and hit[1] > now}
        missing = [w for w in dict.fromkeys(wards) if w not in found]
        if missing:
            pipe = client.pipeline(transaction=False)
            for ward in missing:
                pipe.get(keys.ward_alerting(ward))
            for ward, raw in zip(missing, pipe.execute(raise_on_error=False), strict=True):
                if isinstance(raw, TRANSIENT):
                    raise raw
                try:
                    config = DEFAULT if isinstance(raw, Exception) else config_from_raw(raw)
                except ValueError:
                    log.error("a ward's alerting configuration cannot be read; the defaults apply")
                    config = DEFAULT
                found[ward] = config
                self._cache[ward] = (config, now + self._ttl)
        return found


def load_many(
    client: redis.Redis,
    store: SyncAlertStore,
    patient_ids: Sequence[str],
    configs: WardConfigs,
    *,
    manual: bool = True,
) -> dict[str, PatientContext | Exception]:
    """Each patient's context, or the exception that made it unreadable (the others still load).
    `manual=False` skips the manual observations (the time-based rules do not use them)."""
    pids = list(dict.fromkeys(patient_ids))
    pipe = client.pipeline(transaction=False)
    for pid in pids:
        store.queue_open(pipe, pid)
        pipe.hgetall(keys.alerting_state(pid))
        pipe.get(keys.care_plan(pid))
        pipe.hmget(keys.patient(pid), ["ward", "enrolled_at", "discharged_at"])
        if manual:
            pipe.xrevrange(rkeys.manual(pid), count=MANUAL_WINDOW)
    replies = pipe.execute(raise_on_error=False)
    n = 5 if manual else 4
    rows: dict[str, list[Any]] = {pid: [*replies[n * i : n * i + n], []][:5] for i, pid in enumerate(pids)}
    for reply in replies:
        if isinstance(reply, TRANSIENT):
            raise reply
    wards = [text(row[3][0]) for row in rows.values() if isinstance(row[3], list) and row[3][0] is not None]
    ward_configs = configs.get_many(client, wards)
    out: dict[str, PatientContext | Exception] = {}
    for pid, row in rows.items():
        failed = next((x for x in row if isinstance(x, Exception)), None)
        if failed is not None:
            out[pid] = failed
            continue
        try:
            out[pid] = _context(pid, row, ward_configs)
        except (ValueError, KeyError) as err:  # a stored plan or state that no longer reads
            out[pid] = err
    return out


def latest_readings(
    client: redis.Redis, patient_ids: Sequence[str]
) -> dict[str, dict[str, str] | Exception | None]:
    """Each patient's latest reading (keys.latest: its stream fields, api/reading_codec.py), None when
    none is stored, or the exception that made it unreadable (that patient's entry fails alone)."""
    pids = list(dict.fromkeys(patient_ids))
    if not pids:
        return {}
    pipe = client.pipeline(transaction=False)
    for pid in pids:
        pipe.hget(keys.latest(keys.shard_of(pid)), pid)
    out: dict[str, dict[str, str] | Exception | None] = {}
    for pid, raw in zip(pids, pipe.execute(raise_on_error=False), strict=True):
        if isinstance(raw, TRANSIENT):
            raise raw
        try:
            out[pid] = raw if raw is None or isinstance(raw, Exception) else _fields(json.loads(raw))
        except ValueError as err:  # a value no ingest script wrote
            out[pid] = err
    return out


def _fields(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError("the latest reading is not an object")
    return {str(k): str(v) for k, v in value.items()}


def _context(pid: str, row: list[Any], configs: dict[str, WardConfig]) -> PatientContext:
    open_flat, state, plan_raw, (ward, enrolled, discharged), manual_rows = row
    opened = [text(v) for v in open_flat]
    manual, oxygen = manual_entries(manual_rows)
    ward_id = None if ward is None else text(ward)
    return PatientContext(
        patient_id=pid,
        ward_id=ward_id,
        enrolled_at=None if enrolled is None else datetime.fromisoformat(text(enrolled)),
        discharged=bool(discharged),
        plan=plan_from_raw(plan_raw),
        config=DEFAULT if ward_id is None else configs.get(ward_id, DEFAULT),
        manual=manual,
        oxygen=oxygen,
        state={text(k): text(v) for k, v in state.items()},
        alerts=PatientAlerts(pid, dict(zip(opened[::2], opened[1::2], strict=True))),
    )
