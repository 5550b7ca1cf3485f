"""One device's frames → readings: decode, reduce streams, correct device time. Pure (no I/O, no clock).

- PLX measurements are readings one for one in mode "auto": each is a measurement the device chose
  to report (spot-checks are already the device's result; continuous ones come at the device's rate).
- Raw vendor streams (1-100 Hz) are reduced (gateway/reduce.py): "auto"/"continuous" keep one whole
  frame per 1/continuous_rate_hz seconds; "spot-check" gives one reading per time the finger is in,
  by the NHS method (clinical-rules.md §1.5), with `derivation` saying how it was chosen.
- A device timestamp is corrected by the observed device-gateway clock offset (gateway/clock.py);
  live timestamped frames update the offset, stored records (RACP) only use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from gateway.clock import DeviceClock
from gateway.config import ReduceMode
from gateway.decoders import Decoded, decoder_for
from gateway.model import Derivation, Frame, Reading, TimeSource
from gateway.protocols.registry import ProtocolProfile
from gateway.reduce import NHS_METHOD, ContinuousReducer, Sample, SpotCheckReducer, SpotOutcome

SAMPLED_METHOD: Final = "sampled"


@dataclass(slots=True)
class Output:
    """What one batch of frames produced."""

    readings: list[Reading] = field(default_factory=list)
    rejected: list[tuple[Frame, bytes, str]] = field(default_factory=list)  # (frame, bad bytes, reason)
    no_result: list[SpotOutcome[Decoded]] = field(default_factory=list)  # spot sessions without a value
    battery_percent: int | None = None
    firmware: str | None = None
    offset_changed: bool = False


class DevicePipeline:
    """Stateful per device session (stream parsers, reducers); the clock outlives sessions."""

    def __init__(
        self,
        profile: ProtocolProfile,
        *,
        gateway_id: str,
        address: str,
        mode: ReduceMode,
        continuous_rate_hz: float,
        clock: DeviceClock,
    ) -> None:
        self.profile = profile
        self.gateway_id = gateway_id
        self.address = address
        self.mode = mode
        self.rate_hz = continuous_rate_hz
        self.clock = clock
        self.decoder = decoder_for(profile)
        self.continuous: ContinuousReducer[Decoded] = ContinuousReducer(continuous_rate_hz)
        self.spot: SpotCheckReducer[Decoded] = SpotCheckReducer()
        self._offered = 0  # stream samples since the last sampled reading

    def feed(self, frames: list[Frame], *, model: str | None) -> Output:
        out = Output()
        for frame in frames:
            result = self.decoder.feed(frame)
            out.rejected.extend((frame, data, reason) for data, reason in result.rejected)
            if result.battery_percent is not None:
                out.battery_percent = result.battery_percent
            out.firmware = result.firmware or out.firmware
            for sample in result.samples:
                self._route(sample, out, model)
        return out

    def finish(self, at: datetime, *, model: str | None) -> Output:
        """The device went away: a spot-check session in progress ends now."""
        out = Output()
        self._spot_outcome(self.spot.finish(at), out, model)
        return out

    def _route(self, sample: Decoded, out: Output, model: str | None) -> None:
        if sample.mode == "spot-check" or (not sample.stream and self.mode == "auto"):
            out.readings.append(self._measurement(sample, out, model))
            return
        wrapped = Sample(at=sample.received_at, fields=sample.fields, item=sample)
        if self.mode == "spot-check":
            self._spot_outcome(self.spot.offer(wrapped), out, model)
            return
        self._offered += 1
        if self.continuous.offer(wrapped) is not None:
            derivation = None
            if sample.stream:
                derivation = Derivation(
                    SAMPLED_METHOD, f"one whole frame per {1 / self.rate_hz:g} s of the stream",
                    samples=self._offered,
                )  # fmt: skip
            out.readings.append(self._reading(sample, model, derivation=derivation))
            self._offered = 0

    def _measurement(self, sample: Decoded, out: Output, model: str | None) -> Reading:
        """A frame that is a reading by itself; a timestamped one gets its clock corrected."""
        if sample.device_time is not None and not sample.from_storage:
            out.offset_changed |= self.clock.observe(sample.device_time, sample.received_at)
        corrected = self.clock.correct(
            sample.device_time, sample.received_at, clock_set=not sample.device_clock_not_set,
            stored=sample.from_storage,
        )  # fmt: skip
        timed = sample.device_time is not None
        return self._reading(
            sample, model, measured_at=corrected.measured_at,
            time_source=corrected.source if timed else None,
            offset_s=corrected.offset_s if timed else None,
        )  # fmt: skip

    def _spot_outcome(self, outcome: SpotOutcome[Decoded] | None, out: Output, model: str | None) -> None:
        if outcome is None:
            return
        result = outcome.result
        if result is None:
            out.no_result.append(outcome)
            return
        chosen = result.sample.item
        derivation = Derivation(
            NHS_METHOD, result.derivation, samples=outcome.samples,
            window_start=result.wear_started_at, window_end=result.steady_until,
        )  # fmt: skip
        out.readings.append(
            self._reading(
                chosen, model, mode_override=True, spo2=result.spo2, pulse=result.pulse,
                perfusion_index=result.perfusion_index, derivation=derivation,
            )
        )  # fmt: skip

    def _reading(
        self,
        sample: Decoded,
        model: str | None,
        *,
        measured_at: datetime | None = None,
        time_source: TimeSource | None = None,
        offset_s: float | None = None,
        derivation: Derivation | None = None,
        mode_override: bool = False,
        spo2: float | None = None,
        pulse: float | None = None,
        perfusion_index: float | None = None,
    ) -> Reading:
        fields = sample.fields
        return Reading(
            measured_at=measured_at or sample.received_at,
            received_at=sample.received_at,
            mode="spot-check" if mode_override else sample.mode,
            spo2=spo2 if mode_override else fields.spo2,
            pulse=pulse if mode_override else fields.pulse,
            perfusion_index=perfusion_index if mode_override else fields.perfusion_index,
            measurement_status=fields.measurement_status,
            device_sensor_status=fields.device_sensor_status,
            device_clock_not_set=sample.device_clock_not_set,
            gateway_id=self.gateway_id,
            device_address=self.address,
            protocol=sample.protocol,
            model=model,
            frame=sample.frame,
            from_storage=sample.from_storage,
            time_source=time_source,
            device_offset_s=offset_s,
            derivation=derivation,
            unconfirmed=sample.unconfirmed,
        )
