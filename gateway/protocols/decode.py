"""One entry point from (protocol name, bytes) to a JSON-able dict, for the CLI and vector tests.

Field names are exactly those of the `expected` objects in /work/shared/data/ble-vectors.json
(ble-protocols.md §5): SFLOAT specials as their strings, timestamps as ISO `YYYY-MM-DDTHH:MM:SS`,
status bits as `*_bits` lists. Optional fields the frame does not carry are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from gateway.protocols import (
    berrymed,
    jumper,
    nonin,
    plx,
    plx_fields,
    racp,
    sfloat,
    unconfirmed,
    wellue,
    wellue_o2ring,
)
from gateway.protocols.berrymed_stream import BerryMedStream
from gateway.protocols.common import Parsed
from gateway.protocols.errors import FrameError, UnknownProtocolError
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


def _frames(protocol: str, data: bytes, frames: list[JsonDict], parsed: Parsed[Any]) -> JsonDict:
    """Several frames from one capture, as `{"frames": [...]}` (vector berrymed-bci-07); none is an error."""
    if not frames:
        why = parsed.rejected[0].reason if parsed.rejected else "no complete frame"
        raise FrameError(protocol, f"no valid frame in {len(data)} bytes ({why})", data.hex())
    return {"frames": frames}


def _bci_dict(data: bytes) -> JsonDict:
    """One 5-byte frame as a flat object; a longer capture through the resyncing stream parser."""
    if len(data) == berrymed.BCI_LENGTH:
        return berrymed.bci_dict(berrymed.decode_bci_frame(data))
    parsed = BerryMedStream("bci").feed(data)
    frames = [berrymed.bci_dict(f) for f in parsed.frames if isinstance(f, berrymed.BciFrame)]
    return _frames(berrymed.BCI, data, frames, parsed)


def _berry_dict(data: bytes) -> JsonDict:
    if len(data) == berrymed.BERRY_LENGTH:
        return berrymed.berry_dict(berrymed.decode_berry_packet(data))
    parsed = BerryMedStream("berry").feed(data)
    frames = [
        berrymed.berry_dict(f)
        for f in parsed.frames
        if isinstance(f, berrymed.BerryMeasurement | berrymed.BerryVersion)
    ]
    return _frames(berrymed.BERRY, data, frames, parsed)


def _pc60fw_dict(data: bytes) -> JsonDict:
    if len(data) >= 4 and len(data) == 4 + data[3]:
        return wellue.as_dict(wellue.decode_frame(data))
    parsed = wellue.Pc60Stream().feed(data)
    return _frames(wellue.PROTOCOL, data, [wellue.as_dict(f) for f in parsed.frames], parsed)


DECODERS: Final[dict[str, Callable[[bytes], JsonDict]]] = {
    plx.SPOT_CHECK: _spot_check_dict,
    plx.CONTINUOUS: _continuous_dict,
    plx.FEATURES: _features_dict,
    sfloat.PROTOCOL: _sfloat_dict,
    plx_fields.DATE_TIME: _date_time_dict,
    racp.REQUEST: lambda data: racp.request_dict(racp.decode_request(data)),
    racp.RESPONSE: lambda data: racp.response_dict(racp.decode_response(data)),
    berrymed.BCI: _bci_dict,
    berrymed.BERRY: _berry_dict,
    nonin.PROTOCOL: lambda data: nonin.as_dict(nonin.decode_continuous(data)),
    wellue.PROTOCOL: _pc60fw_dict,
    wellue_o2ring.REQUEST: lambda data: wellue_o2ring.request_dict(wellue_o2ring.decode_request(data)),
    wellue_o2ring.RESPONSE: lambda data: wellue_o2ring.response_dict(wellue_o2ring.decode_response(data)),
    jumper.PROTOCOL: lambda data: jumper.as_dict(jumper.decode_frame(data)),
    unconfirmed.JKS50F: lambda data: unconfirmed.jks50f_dict(unconfirmed.decode_jks50f(data)),
    unconfirmed.CONTEC: lambda data: unconfirmed.contec_dict(unconfirmed.decode_contec(data)),
}
PROTOCOLS: Final = tuple(DECODERS)


def decode(protocol_name: str, data: bytes) -> JsonDict:
    """Decode `data` as `protocol_name` (a ble-vectors.json protocol name) to a JSON-able dict.

    Protocols that stream (berrymed-bci, berrymed-berry, pc60fw) also accept a capture of several
    frames and return `{"frames": [...]}`, skipping garbage as the gateway's stream parsers do.
    Raises FrameError for a malformed frame, UnknownProtocolError for a name with no decoder.
    """
    try:
        decoder = DECODERS[protocol_name]
    except KeyError:
        known = ", ".join(PROTOCOLS)
        raise UnknownProtocolError(protocol_name, f"no decoder for this protocol; known: {known}") from None
    return decoder(bytes(data))
