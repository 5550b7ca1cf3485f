"""One entry point from (protocol name, bytes) to a JSON-able dict, for the CLI and vector tests.

Field names are exactly those of the `expected` objects in /work/shared/data/ble-vectors.json
(ble-protocols.md §5): SFLOAT specials as their strings, timestamps as ISO `YYYY-MM-DDTHH:MM:SS`,
status bits as `*_bits` lists. Optional fields the frame does not carry are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from gateway.protocols import plx, plx_fields, sfloat
from gateway.protocols.errors import UnknownProtocolError
from gateway.protocols.sfloat import SfloatParts

JsonDict = dict[str, Any]


def _value(parts: SfloatParts) -> float | str:
    value = parts.value
    return str(value) if isinstance(value, sfloat.SfloatSpecial) else value


def _put_sfloat(out: JsonDict, name: str, parts: SfloatParts | None) -> None:
    if parts is None:
        return
    out[name] = _value(parts)
    if parts.special is None:
        out[f"{name}_sfloat"] = {"mantissa": parts.mantissa, "exponent": parts.exponent}


def _put_status(out: JsonDict, name: str, value: int | None, bits: tuple[str, ...]) -> None:
    if value is not None:
        out[name] = value
        out[f"{name}_bits"] = list(bits)


def _sfloat_dict(data: bytes) -> JsonDict:
    parts = sfloat.decode_sfloat_parts(data)
    if parts.special is not None:
        return {"raw": parts.raw, "special": str(parts.special)}
    return {"raw": parts.raw, "value": parts.value, "mantissa": parts.mantissa, "exponent": parts.exponent}


def _date_time_dict(data: bytes) -> JsonDict:
    f = plx_fields.decode_date_time_fields(data)
    return {
        "year": f.year,
        "month": f.month,
        "day": f.day,
        "hours": f.hours,
        "minutes": f.minutes,
        "seconds": f.seconds,
    }


def _spot_check_dict(data: bytes) -> JsonDict:
    m = plx.decode_spot_check(data)
    out: JsonDict = {"flags": m.flags}
    _put_sfloat(out, "spo2", m.spo2_sfloat)
    _put_sfloat(out, "pulse_rate", m.pulse_rate_sfloat)
    if m.timestamp_fields is not None:
        ts = m.timestamp
        out["timestamp"] = None if ts is None else ts.isoformat(timespec="seconds")
    out["device_clock_not_set"] = m.device_clock_not_set
    _put_status(out, "measurement_status", m.measurement_status, m.measurement_status_bits)
    _put_status(out, "device_sensor_status", m.device_sensor_status, m.device_sensor_status_bits)
    _put_sfloat(out, "pai", m.pai_sfloat)
    return out


def _continuous_dict(data: bytes) -> JsonDict:
    m = plx.decode_continuous(data)
    out: JsonDict = {"flags": m.flags}
    _put_sfloat(out, "spo2", m.spo2_sfloat)
    _put_sfloat(out, "pulse_rate", m.pulse_rate_sfloat)
    _put_sfloat(out, "spo2_fast", m.spo2_fast_sfloat)
    _put_sfloat(out, "pulse_rate_fast", m.pulse_rate_fast_sfloat)
    _put_sfloat(out, "spo2_slow", m.spo2_slow_sfloat)
    _put_sfloat(out, "pulse_rate_slow", m.pulse_rate_slow_sfloat)
    _put_status(out, "measurement_status", m.measurement_status, m.measurement_status_bits)
    _put_status(out, "device_sensor_status", m.device_sensor_status, m.device_sensor_status_bits)
    _put_sfloat(out, "pai", m.pai_sfloat)
    return out


def _features_dict(data: bytes) -> JsonDict:
    f = plx.decode_features(data)
    out: JsonDict = {
        "supported_features": f.supported_features,
        "supported_features_bits": list(f.supported_features_bits),
    }
    ms_support, dss_support = f.measurement_status_support, f.device_sensor_status_support
    _put_status(out, "measurement_status_support", ms_support, f.measurement_status_support_bits)
    _put_status(out, "device_sensor_status_support", dss_support, f.device_sensor_status_support_bits)
    return out


DECODERS: Final[dict[str, Callable[[bytes], JsonDict]]] = {
    plx.SPOT_CHECK: _spot_check_dict,
    plx.CONTINUOUS: _continuous_dict,
    plx.FEATURES: _features_dict,
    sfloat.PROTOCOL: _sfloat_dict,
    plx_fields.DATE_TIME: _date_time_dict,
}
PROTOCOLS: Final = tuple(DECODERS)


def decode(protocol_name: str, data: bytes) -> JsonDict:
    """Decode `data` as `protocol_name` (a ble-vectors.json protocol name) to a JSON-able dict.

    Raises FrameError for a malformed frame, UnknownProtocolError for a name with no decoder.
    """
    try:
        decoder = DECODERS[protocol_name]
    except KeyError:
        known = ", ".join(PROTOCOLS)
        raise UnknownProtocolError(protocol_name, f"no decoder for this protocol; known: {known}") from None
    return decoder(bytes(data))
