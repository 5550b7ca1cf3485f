"""Manual observations: the NEWS2 parameters an oximeter does not measure (clinical-rules.md §2.3),
plus air/oxygen (§2.1), recorded by staff or the patient, one Redis stream per patient.

Stream ``<patient>:manual`` (same slot as the patient); entry id = when it was recorded; fields
`pm` parameter, `v` value, `m` measured_at (epoch ms), `by`, `note` (when given). The values match
alerting/manual.py's ManualObservation (parameter names, breaths/min, mmHg, °C, ACVPU letter).
Recording one, or a set measured together, also queues ONE entry (`pt`, `ob` = the id of the
observation, or of the set's last, `m`) on the patient's shard evaluation stream in the same script
(api/lua/observation.lua): the worker scores NEWS2 with it at once (api/evaluation.py,
alerting/manual_set.py), as it does for a reading, and a set only as a whole.

Entry ranges are *plausibility* limits, our choice, not clinical thresholds: they catch a slip of
the keyboard (37 typed as 370) while admitting every value on the NEWS2 chart (§2.3: RR ≤8..≥25,
systolic ≤90..≥220, temperature ≤35.0..≥39.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis

from api import keys
from api.careplans import plan_from_raw
from api.contract import datetime_ms, format_utc_ms
from api.queries import decode_cursor, encode_cursor
from api.reading_codec import entry_ms
from api.registry import text
from api.resources import keys as rkeys
from api.resources.schemas import ObservationCreate, ObservationItem, ObservationRead, ObservationSetCreate

#: (low, high, UCUM unit) per numeric parameter.
NUMERIC: dict[str, tuple[float, float, str]] = {
    "respiration_rate": (1.0, 80.0, "/min"),
    "systolic_bp": (40.0, 300.0, "mm[Hg]"),
    "temperature": (25.0, 45.0, "Cel"),
}
#: §2.3 ACVPU: Alert, new Confusion, Voice, Pain, Unresponsive. §2.1: air or oxygen.
CODED: dict[str, frozenset[str]] = {
    "consciousness": frozenset({"A", "C", "V", "P", "U"}),
    "oxygen": frozenset({"air", "oxygen"}),
}
#: A device or a person's clock may run a little ahead; more than this is a mistake.
FUTURE_SLACK = timedelta(minutes=5)
MAX_AGE = timedelta(days=30)
OBSERVATION_LUA = files("api").joinpath("lua/observation.lua").read_text(encoding="utf-8")
#: Per patient: years of 4-hourly observations; the cap only stops a runaway client.
MAXLEN = 20_000
SCAN_BUDGET = 5_000


class ObservationRejected(ValueError):
    """The value does not fit the parameter (422); the message says what is expected."""


class SetRejected(ObservationRejected):
    """A set refused for one of its fields: `loc` names it in the body, e.g. ("observations", 2,
    "value"), so the 422 says which item (api/resources/access.py)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def check(item: ObservationItem) -> float | str:
    """The value to store, or ObservationRejected saying what is wrong."""
    p, v = item.parameter, item.value
    if p in NUMERIC:
        low, high, unit = NUMERIC[p]
        if isinstance(v, str) or math.isnan(v) or not low <= v <= high:
            raise ObservationRejected(f"{p} must be a number from {low:g} to {high:g} {unit}")
        return float(v)
    allowed = CODED[p]
    if not isinstance(v, str) or v not in allowed:
        raise ObservationRejected(f"{p} must be one of {', '.join(sorted(allowed))}")
    return v


def _age_check(measured_at: datetime, now: datetime) -> None:
    if measured_at > now + FUTURE_SLACK:
        raise ObservationRejected("measured_at is in the future")
    if measured_at < now - MAX_AGE:
        raise ObservationRejected(f"measured_at is more than {MAX_AGE.days} days ago")


def _fields(item: ObservationItem, measured: str, by: str) -> dict[str, str]:
    """The stream fields of a checked observation (see the module docstring)."""
    value = check(item)
    fields = {"pm": item.parameter, "v": repr(value) if isinstance(value, float) else value}
    fields |= {"m": measured, "by": by}
    if item.note:
        fields["note"] = item.note
    return fields


def to_read(entry_id: str, fields: dict[str, str]) -> ObservationRead:
    p = fields["pm"]
    value: float | str = float(fields["v"]) if p in NUMERIC else fields["v"]
    return ObservationRead.model_validate(
        {
            "observation_id": entry_id,
            "parameter": p,
            "value": value,
            "unit": NUMERIC[p][2] if p in NUMERIC else None,
            "measured_at": format_utc_ms(int(fields["m"])),
            "recorded_at": format_utc_ms(entry_ms(entry_id)),
            "by": fields["by"],
            "note": fields.get("note"),
        }
    )


async def record(
    r: Redis, patient_id: str, body: ObservationCreate, now: datetime, by: str
) -> ObservationRead:
    """Store the observation under `by` (api/actor.py) and queue the patient's evaluation with it
    (api/lua/observation.lua): NEWS2 is scored at once, not at the next oximeter reading."""
    _age_check(body.measured_at, now)
    measured = str(datetime_ms(body.measured_at))
    [stored] = await _store(r, patient_id, measured, [_fields(body, measured, by)])
    return stored


async def record_set(
    r: Redis, patient_id: str, body: ObservationSetCreate, now: datetime, by: str
) -> list[ObservationRead]:
    """Store a set measured together (at `measured_at`, default `now`) under `by`, all of it or none
    (SetRejected names the first item refused), with ONE evaluation queued for the whole set."""
    measured_at = now if body.measured_at is None else body.measured_at
    try:
        _age_check(measured_at, now)
    except ObservationRejected as exc:
        raise SetRejected(("measured_at",), str(exc)) from exc
    measured = str(datetime_ms(measured_at))
    rows = []
    for i, item in enumerate(body.observations):
        try:
            rows.append(_fields(item, measured, by))
        except ObservationRejected as exc:
            raise SetRejected(("observations", i, "value"), str(exc)) from exc
    return await _store(r, patient_id, measured, rows)


async def _store(
    r: Redis, patient_id: str, measured: str, rows: list[dict[str, str]]
) -> list[ObservationRead]:
    """Append checked observations and queue one evaluation for them, in one script."""
    script = r.register_script(OBSERVATION_LUA)
    shard_eval = keys.eval_stream(keys.shard_of(patient_id))
    args: list[str | int] = [MAXLEN, patient_id, measured]
    for fields in rows:
        args.append(2 * len(fields))
        for name, text_value in fields.items():
            args += [name, text_value]
    ids = await script(keys=[rkeys.manual(patient_id), shard_eval], args=args)
    return [to_read(text(entry_id), fields) for entry_id, fields in zip(ids, rows, strict=True)]


async def will_be_scored(r: Redis, patient_id: str) -> bool:
    """Whether an observation recorded now is scored: only a NEWS2 pack scores manual observations
    (alerting/manual_set.py) and a discharged patient raises no alert (api/evaluation.py). Said in
    the response so a caller is not left to believe an unscored set was judged harmless; as the
    plan stands when recorded (a plan changed in the next moment is not foreseen)."""
    async with r.pipeline(transaction=False) as pipe:
        pipe.get(keys.care_plan(patient_id))
        pipe.hget(keys.patient(patient_id), "discharged_at")
        plan_raw, discharged = await pipe.execute()
    return plan_from_raw(plan_raw).news2_scale is not None and not discharged  # as the worker reads it


@dataclass(frozen=True, slots=True)
class ObservationPageData:
    items: list[ObservationRead]
    next_cursor: str | None


async def page(
    r: Redis,
    patient_id: str,
    parameter: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None,
) -> ObservationPageData:
    """Oldest recorded first; filtered by parameter and measured time ``[start, end)``."""
    low = "-" if cursor is None else "(" + decode_cursor(cursor)
    start_ms = None if start is None else datetime_ms(start)
    end_ms = None if end is None else datetime_ms(end)
    rows: list[Any] = await r.xrange(rkeys.manual(patient_id), min=low, max="+", count=SCAN_BUDGET) or []
    items: list[ObservationRead] = []
    last = ""
    for raw_id, raw_fields in rows:
        last = text(raw_id)
        f = {text(k): text(v) for k, v in raw_fields.items()}
        m = int(f["m"])
        if parameter is not None and f["pm"] != parameter:
            continue
        if (start_ms is not None and m < start_ms) or (end_ms is not None and m >= end_ms):
            continue
        items.append(to_read(last, f))
        if len(items) == limit:
            return ObservationPageData(items, encode_cursor(last))
    more = len(rows) == SCAN_BUDGET
    return ObservationPageData(items, encode_cursor(last) if more else None)
