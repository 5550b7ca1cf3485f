"""Signal quality of one reading, from the PLX status bits (clinical-rules.md §6).

Bit layouts: Bluetooth PLXS, §6.1 (S-PLX). What each flag does to the reading (§6.2):

- **unscorable** (no physiological rule may use the value, §6.2.2): measurement status invalid (15),
  unavailable (13), early estimate (6), demo (10), test (11), calibration ongoing (12); device/sensor
  status probe off = sensor unconnected to user (11), sensor displaced (13), sensor disconnected (15);
  no SpO2 value, or NaN / outside 0-100.
  Also unscorable, our addition: equipment malfunction (device bit 1) and sensor malfunctioning
  (device bit 14) -- the device itself says its numbers cannot be trusted.
- **measurement ongoing** (status bit 5): unscorable for a **spot-check**, whose value is not final
  until the measurement ends (§6.2.2). For a **continuous** stream it is the normal state of a device
  that is measuring all the time -- the Spezi vector plx-cont-04 (ble-vectors.json) sets it together
  with "fully qualified data" -- so there it is ignored.
- **questionable** (the value may be real: a red value still alerts, marked questionable, §6.2.4):
  measurement status questionable (14); device/sensor status low perfusion (5), erratic signal (6),
  and the other signal-quality warnings: signal processing irregularity (2), inadequate signal (3),
  poor signal (4), non-pulsatile signal (7), questionable pulse (8), signal analysis ongoing (9),
  sensor interference (10), unknown sensor connected (12).
- **notes only**: data from measurement storage (status bit 9) and device clock not set -- they say
  the reading may be late, which is judged from its measured time (§6.2.5), not from these bits.
- Ignored: validated / fully qualified data (7, 8), extended display update (device bit 0) and the
  reserved bits (status 0-4, device 16-23).

Which flags are unscorable and which questionable is a safety decision for the clinical team to
approve (§6.2.4); it lives here, in one table per status field.
"""

from __future__ import annotations

import math

from alerting.model import Mode, Observation, Quality, QualityLevel

_UNSCORABLE = QualityLevel.UNSCORABLE
_QUESTIONABLE = QualityLevel.QUESTIONABLE

#: Measurement Status bit -> (reason, level). Bit 5 (ongoing) is handled apart: it depends on mode.
MEASUREMENT_FLAGS: dict[int, tuple[str, QualityLevel]] = {
    6: ("early-estimate", _UNSCORABLE),
    10: ("demo-data", _UNSCORABLE),
    11: ("test-data", _UNSCORABLE),
    12: ("calibration-ongoing", _UNSCORABLE),
    13: ("measurement-unavailable", _UNSCORABLE),
    14: ("questionable-measurement", _QUESTIONABLE),
    15: ("invalid-measurement", _UNSCORABLE),
}
MEASUREMENT_ONGOING_BIT = 5
FROM_STORAGE_BIT = 9

#: Device and Sensor Status bit -> (reason, level).
DEVICE_FLAGS: dict[int, tuple[str, QualityLevel]] = {
    1: ("equipment-malfunction", _UNSCORABLE),
    2: ("signal-processing-irregularity", _QUESTIONABLE),
    3: ("inadequate-signal", _QUESTIONABLE),
    4: ("poor-signal", _QUESTIONABLE),
    5: ("low-perfusion", _QUESTIONABLE),
    6: ("erratic-signal", _QUESTIONABLE),
    7: ("non-pulsatile-signal", _QUESTIONABLE),
    8: ("questionable-pulse", _QUESTIONABLE),
    9: ("signal-analysis-ongoing", _QUESTIONABLE),
    10: ("sensor-interference", _QUESTIONABLE),
    11: ("probe-off", _UNSCORABLE),
    12: ("unknown-sensor", _QUESTIONABLE),
    13: ("sensor-displaced", _UNSCORABLE),
    14: ("sensor-malfunction", _UNSCORABLE),
    15: ("sensor-disconnected", _UNSCORABLE),
}


def _flags(bits: int | None, table: dict[int, tuple[str, QualityLevel]]) -> list[tuple[str, QualityLevel]]:
    if bits is None:
        return []
    return [entry for bit, entry in table.items() if bits >> bit & 1]


def assess(obs: Observation) -> Quality:
    """How far the rules may trust `obs`: scorable, questionable or unscorable, with every reason."""
    found: list[tuple[str, QualityLevel]] = []
    if obs.spo2 is None:
        found.append(("no-spo2", _UNSCORABLE))
    elif math.isnan(obs.spo2) or not 0.0 <= obs.spo2 <= 100.0:
        found.append(("spo2-not-plausible", _UNSCORABLE))
    found += _flags(obs.measurement_status, MEASUREMENT_FLAGS)
    status = obs.measurement_status or 0
    if obs.mode is Mode.SPOT_CHECK and status >> MEASUREMENT_ONGOING_BIT & 1:
        found.append(("measurement-ongoing", _UNSCORABLE))
    found += _flags(obs.device_sensor_status, DEVICE_FLAGS)

    notes: list[str] = []
    if status >> FROM_STORAGE_BIT & 1:
        notes.append("from-storage")
    if obs.device_clock_not_set:
        notes.append("device-clock-not-set")

    if any(level is _UNSCORABLE for _, level in found):
        level = _UNSCORABLE
    elif found:
        level = _QUESTIONABLE
    else:
        level = QualityLevel.SCORABLE
    return Quality(level=level, reasons=tuple(reason for reason, _ in found), notes=tuple(notes))
