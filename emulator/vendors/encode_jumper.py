"""The emulator's own encoder for Jumper / "Medical" / "My Oximeter" CDEACB80 value frames (pure).

EXPERIMENTAL, UNCONFIRMED (ble-protocols.md §2.7): 4 bytes `81 | PR | SpO2 | PI` (PI raw 0-200,
displayed /10); "no reading" as PR 255 / SpO2 127 is unconfirmed on hardware. The 0x80 waveform
frames are not emulated: their layout is not known.
"""

from __future__ import annotations

from emulator.scenarios import Sample

__all__ = ["JUMPER_VALUES", "encode_jumper_values", "jumper_values_for"]

JUMPER_VALUES = 0x81
_PR_NONE, _SPO2_NONE = 0xFF, 0x7F


def encode_jumper_values(pulse_rate: int | None, spo2: int | None, pi_percent: float | None) -> bytes:
    pi_raw = 0 if pi_percent is None else max(0, min(200, round(pi_percent * 10)))
    return bytes(
        [
            JUMPER_VALUES,
            _PR_NONE if pulse_rate is None else pulse_rate,
            _SPO2_NONE if spo2 is None else spo2,
            pi_raw,
        ]
    )


def jumper_values_for(sample: Sample) -> bytes:
    if sample.probe_off or sample.spo2 is None or sample.pulse_rate is None:
        return encode_jumper_values(None, None, None)
    return encode_jumper_values(round(sample.pulse_rate), round(sample.spo2), sample.pai)
