"""Scripted physiological scenarios: deterministic sample streams, one sample per oximeter tick.

A `Scenario` is re-iterable: every `iter()` restarts from its seed, so a test can replay exactly the
samples an emulated oximeter is sending. Scenarios run forever (the last phase holds) unless given
a `length`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from emulator.plx_encode import DeviceSensorStatus, MeasurementStatus

__all__ = [
    "PROBE_OFF",
    "SCENARIOS",
    "Sample",
    "Scenario",
    "probe_off",
    "scenario",
    "slow_desaturation",
    "stable",
    "sudden_drop",
]


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading as the sensor sees it. None = no reading (NaN on the wire)."""

    spo2: float | None
    pulse_rate: float | None
    pai: float | None
    measurement_status: MeasurementStatus = MeasurementStatus.NONE
    device_sensor_status: DeviceSensorStatus = DeviceSensorStatus.NONE

    @property
    def probe_off(self) -> bool:
        return bool(
            self.device_sensor_status
            & (DeviceSensorStatus.SENSOR_UNCONNECTED_TO_USER | DeviceSensorStatus.SENSOR_DISCONNECTED)
        )


# "Finger out" as a standard device reports it: NaN values, sensor bits 11/15 and measurement
# unavailable (ble-protocols.md §1.7, vector plx-cont-07).
PROBE_OFF = Sample(
    spo2=None,
    pulse_rate=None,
    pai=None,
    measurement_status=MeasurementStatus.MEASUREMENT_UNAVAILABLE,
    device_sensor_status=(
        DeviceSensorStatus.SENSOR_UNCONNECTED_TO_USER | DeviceSensorStatus.SENSOR_DISCONNECTED
    ),
)

Generator = Callable[[random.Random], Iterator[Sample]]


@dataclass(frozen=True)
class Scenario:
    name: str
    generate: Generator
    seed: int = 0
    length: int | None = None

    def __iter__(self) -> Iterator[Sample]:
        samples = self.generate(random.Random(self.seed))  # noqa: S311 - simulation, not crypto
        return samples if self.length is None else islice(samples, self.length)

    def take(self, count: int) -> list[Sample]:
        """The first `count` samples (fewer if the scenario is shorter)."""
        return list(islice(self, count))


def _reading(rng: random.Random, spo2: float, pulse: float, pai: float) -> Sample:
    """A valid reading near the given values with a device-like jitter: integer %, integer bpm."""
    jittered = spo2 + rng.choice((-1, 0, 0, 1))
    return Sample(
        spo2=float(max(0, min(100, round(jittered)))),
        pulse_rate=float(round(pulse + rng.uniform(-3.0, 3.0))),
        pai=round(max(0.1, pai + rng.uniform(-0.5, 0.5)), 1),
    )


def _hold(rng: random.Random, spo2: float, pulse: float, pai: float) -> Iterator[Sample]:
    while True:
        yield _reading(rng, spo2, pulse, pai)


def _ramp(
    rng: random.Random, ticks: int, spo2: tuple[float, float], pulse: tuple[float, float], pai: float
) -> Iterator[Sample]:
    for i in range(ticks):
        frac = (i + 1) / ticks
        yield _reading(
            rng, spo2[0] + (spo2[1] - spo2[0]) * frac, pulse[0] + (pulse[1] - pulse[0]) * frac, pai
        )


def stable(
    *, spo2: float = 97, pulse: float = 72, pai: float = 5.0, seed: int = 0, length: int | None = None
) -> Scenario:
    """SpO2 ~97 ±1, pulse ~72 ±3: a well patient."""

    def generate(rng: random.Random) -> Iterator[Sample]:
        yield from _hold(rng, spo2, pulse, pai)

    return Scenario("stable", generate, seed, length)


def slow_desaturation(
    *,
    start: float = 97,
    end: float = 88,
    ticks: int = 60,
    lead_in: int = 0,
    pulse_start: float = 72,
    pulse_end: float = 92,
    pai: float = 4.0,
    seed: int = 0,
    length: int | None = None,
) -> Scenario:
    """`lead_in` stable ticks, then SpO2 falls linearly from `start` to ~`end` over `ticks`, then holds."""
    if ticks < 1:
        raise ValueError("ticks must be >= 1")

    def generate(rng: random.Random) -> Iterator[Sample]:
        yield from islice(_hold(rng, start, pulse_start, pai), lead_in)
        yield from _ramp(rng, ticks, (start, end), (pulse_start, pulse_end), pai)
        yield from _hold(rng, end, pulse_end, pai)

    return Scenario("slow-desaturation", generate, seed, length)


def sudden_drop(
    *,
    stable_ticks: int = 30,
    baseline: float = 97,
    drop_to: float = 86,
    pulse: float = 72,
    pulse_after: float = 105,
    pai: float = 5.0,
    seed: int = 0,
    length: int | None = None,
) -> Scenario:
    """Stable for `stable_ticks`, then SpO2 drops at once to ~`drop_to` and stays there."""

    def generate(rng: random.Random) -> Iterator[Sample]:
        yield from islice(_hold(rng, baseline, pulse, pai), stable_ticks)
        yield from _hold(rng, drop_to, pulse_after, pai * 0.6)

    return Scenario("sudden-drop", generate, seed, length)


def probe_off(
    *,
    valid_ticks: int = 10,
    off_ticks: int = 5,
    spo2: float = 97,
    pulse: float = 72,
    pai: float = 5.0,
    seed: int = 0,
    length: int | None = None,
) -> Scenario:
    """Valid readings, then `off_ticks` probe-off frames (finger out), then valid readings again."""

    def generate(rng: random.Random) -> Iterator[Sample]:
        yield from islice(_hold(rng, spo2, pulse, pai), valid_ticks)
        for _ in range(off_ticks):
            yield PROBE_OFF
        yield from _hold(rng, spo2, pulse, pai)

    return Scenario("probe-off", generate, seed, length)


SCENARIOS: dict[str, Callable[..., Scenario]] = {
    "stable": stable,
    "slow-desaturation": slow_desaturation,
    "sudden-drop": sudden_drop,
    "probe-off": probe_off,
}


def scenario(name: str, **kwargs: Any) -> Scenario:
    """Build a named scenario; keyword arguments go to its factory (seed, length, ...)."""
    try:
        factory = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(sorted(SCENARIOS))}") from None
    return factory(**kwargs)
