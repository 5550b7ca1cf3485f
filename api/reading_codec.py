"""Pure conversions of a reading: ValidReading <-> Redis stream fields <-> REST JSON.

Stream entry fields (keys.readings(pid) and, with `pt` and `sid` added, keys.eval_stream(shard)).
Short names and omitted nulls keep an entry small: docs/services.md measured ~82 B per entry with 8
string fields against ~280 B for one JSON blob, and RAM is what bounds the raw window in Redis.

| field | value | when absent |
|---|---|---|
| `r`  | reading id, 32 hex (the contract's deterministic id) | never |
| `m`  | measured_at, epoch ms | never |
| `g`  | received_at (gateway clock), epoch ms | never |
| `o`  | mode: `s` spot-check, `c` continuous | never |
| `s`  | SpO2 %, shortest decimal form (`97`, `94.5`) | device sent "no reading" |
| `p`  | pulse, beats/min | absent |
| `i`  | perfusion index, % | not reported |
| `ms` | PLX Measurement Status, decimal | not sent |
| `ds` | PLX Device and Sensor Status, decimal | not sent |
| `c`  | `1` when the device said its clock is not set | clock set |
| `gw` | gateway id | never |
| `d`  | device address as sent | never |
| `pr` | protocol name | never |
| `md` | device model | null |
| `f`  | raw frame, lowercase hex (audit) | not sent |

Eval stream only: `pt` patient id, `sid` the entry id in the patient's readings stream.
The stored time is the stream entry id (Redis server time at XADD), so it is not a field.
keys.latest(shard) holds, per patient, the same fields as a JSON object plus `id` (the entry id);
`latest_to_api` turns that into the REST form.
"""

from __future__ import annotations

import json
from typing import Any

from api.contract import ValidReading, format_utc_ms

#: A reading stored this long after it was measured is shown as late-arriving
#: (clinical-rules.md §6.2.5: show it as late, not as "now"). Same default as alerting's.
LATE_AFTER_MS = 10 * 60 * 1000
#: PLX Measurement Status bit 9, "data from measurement storage": a record the device kept and
#: replayed (RACP) is late by nature, however soon after measurement it was downloaded.
FROM_STORAGE_BIT = 1 << 9

_MODE_TO_CODE = {"spot-check": "s", "continuous": "c"}
_CODE_TO_MODE = {"s": "spot-check", "c": "continuous"}

Fields = dict[str, str]


def _num(value: float) -> str:
    """Shortest text that reads back as the same float: 97.0 -> '97', 94.5 -> '94.5'."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def to_fields(reading: ValidReading) -> Fields:
    """ValidReading -> compact stream fields (all strings, nulls omitted)."""
    f: Fields = {
        "r": reading.reading_id,
        "m": str(reading.measured_ms),
        "g": str(reading.received_ms),
        "o": _MODE_TO_CODE[reading.mode],
    }
    if reading.spo2 is not None:
        f["s"] = _num(reading.spo2)
    if reading.pulse is not None:
        f["p"] = _num(reading.pulse)
    if reading.perfusion_index is not None:
        f["i"] = _num(reading.perfusion_index)
    if reading.measurement_status is not None:
        f["ms"] = str(reading.measurement_status)
    if reading.device_sensor_status is not None:
        f["ds"] = str(reading.device_sensor_status)
    if reading.device_clock_not_set:
        f["c"] = "1"
    f["gw"] = reading.gateway_id
    f["d"] = reading.device_address
    f["pr"] = reading.protocol
    if reading.model is not None:
        f["md"] = reading.model
    if reading.frame is not None:
        f["f"] = reading.frame
    return f


def decode_fields(raw: dict[Any, Any]) -> Fields:
    """Normalise what redis-py returns (bytes or str keys/values) to str -> str."""
    return {_text(k): _text(v) for k, v in raw.items()}


def _opt_float(f: Fields, key: str) -> float | None:
    v = f.get(key)
    return None if v is None else float(v)


def _opt_int(f: Fields, key: str) -> int | None:
    v = f.get(key)
    return None if v is None else int(v)


def from_fields(f: Fields) -> ValidReading:
    """Stream fields -> ValidReading (inverse of `to_fields`)."""
    return ValidReading(
        reading_id=f["r"],
        measured_ms=int(f["m"]),
        received_ms=int(f["g"]),
        mode="spot-check" if f["o"] == "s" else "continuous",
        spo2=_opt_float(f, "s"),
        pulse=_opt_float(f, "p"),
        perfusion_index=_opt_float(f, "i"),
        measurement_status=_opt_int(f, "ms"),
        device_sensor_status=_opt_int(f, "ds"),
        device_clock_not_set=f.get("c") == "1",
        gateway_id=f["gw"],
        device_address=f["d"],
        protocol=f["pr"],
        model=f.get("md"),
        frame=f.get("f"),
    )


def entry_ms(entry_id: str | bytes) -> int:
    """The millisecond part of a stream entry id (`1732900000123-0` -> 1732900000123)."""
    return int(_text(entry_id).split("-", 1)[0])


def _from_storage(f: Fields) -> bool:
    status = _opt_int(f, "ms")
    return status is not None and bool(status & FROM_STORAGE_BIT)


def to_api(entry_id: str | bytes, fields: dict[Any, Any]) -> dict[str, Any]:
    """One stored reading as the REST API shows it.

    `reading_id` is the contract's id; `entry_id` is the position in the patient's stream (a cursor
    for paging); `stored_at` is when the service stored it; `late` says it was stored more than
    LATE_AFTER_MS after it was measured (backfill, outbox replay, a device clock that was not set)
    or it is a record replayed from the device's measurement storage.
    """
    f = decode_fields(fields)
    eid = _text(entry_id)
    stored_ms = entry_ms(eid)
    measured_ms = int(f["m"])
    return {
        "reading_id": f["r"],
        "entry_id": eid,
        "measured_at": format_utc_ms(measured_ms),
        "received_at": format_utc_ms(int(f["g"])),
        "stored_at": format_utc_ms(stored_ms),
        "late": stored_ms - measured_ms > LATE_AFTER_MS or _from_storage(f),
        "mode": _CODE_TO_MODE[f["o"]],
        "spo2": _opt_float(f, "s"),
        "pulse": _opt_float(f, "p"),
        "perfusion_index": _opt_float(f, "i"),
        "status": {
            "measurement": _opt_int(f, "ms"),
            "device_sensor": _opt_int(f, "ds"),
            "device_clock_not_set": f.get("c") == "1",
        },
        "source": {
            "gateway_id": f["gw"],
            "device_address": f["d"],
            "protocol": f["pr"],
            "model": f.get("md"),
        },
        "frame": f.get("f"),
    }


def latest_json(entry_id: str, fields: Fields) -> str:
    """The keys.latest(shard) value: the stream fields plus `id` (what the ingest script writes)."""
    return json.dumps({**fields, "id": entry_id}, separators=(",", ":"))


def latest_vitals(raw: str | bytes) -> tuple[float | None, float | None, int]:
    """(SpO2, pulse, measured epoch ms) of a keys.latest(shard) value: all a queue row needs,
    without building the whole REST form (a 500-patient queue would spend most of its time there)."""
    obj = json.loads(raw)
    return _opt_float(obj, "s"), _opt_float(obj, "p"), int(obj["m"])


def latest_to_api(raw: str | bytes) -> dict[str, Any]:
    """A keys.latest(shard) hash value -> the REST form of that reading."""
    obj = json.loads(raw)
    entry_id = obj.pop("id")
    return to_api(entry_id, obj)
