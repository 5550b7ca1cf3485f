"""Pure stream reducers: 1-100 Hz decoded samples in, the readings the ward's rules expect out.

- `ContinuousReducer`: one reading per interval (default 1/s, configurable). It passes whole samples,
  never values averaged across frames, so SpO2 and pulse always come from the same frame
  (clinical-rules.md §6.2.6).
- `SpotCheckReducer`: the NHS method for a spot reading (clinical-rules.md §1.5): keep the oximeter on at
  least 1 minute; record the highest result once it has not changed for 5 seconds. Each result says how
  it was derived; a session that yields no result says why.

No clock reads: every sample carries its time. Times are aware datetimes from one clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Generic, TypeVar

from gateway.protocols.common import ReadingFields

T = TypeVar("T")
NHS_METHOD: Final = "nhs-highest-steady-5s-after-60s"
NHS_MIN_WEAR_S: Final = 60.0  # clinical-rules.md §1.5: "at least 1 minute"
NHS_STEADY_S: Final = 5.0  # §1.5: "has not changed for 5 seconds"


@dataclass(frozen=True, slots=True)
class Sample(Generic[T]):
    """One decoded frame at the time it arrived; `item` is whatever the caller needs back (e.g. the frame)."""

    at: datetime
    fields: ReadingFields
    item: T


class ContinuousReducer(Generic[T]):
    """Lets through at most `rate_hz` samples per second on average, on a fixed time grid.

    A sample is let through when it arrives no earlier than `jitter` (a fraction of the interval) before
    the next due time, so a ~1 Hz device with timing jitter keeps every frame at 1/s. The grid then
    advances by one interval, so a 100 Hz stream gives exactly `rate_hz` (each reading `jitter` early
    on the grid, hence a shorter first gap); after a silence the grid restarts at the next sample.
    """

    def __init__(self, rate_hz: float = 1.0, *, jitter: float = 0.25) -> None:
        if not 0 < rate_hz <= 100:
            raise ValueError(f"continuous reading rate must be in (0, 100] Hz, got {rate_hz}")
        if not 0 <= jitter < 0.5:
            raise ValueError(f"jitter is a fraction of the interval in [0, 0.5), got {jitter}")
        self.interval = timedelta(seconds=1 / rate_hz)
        self._tolerance = self.interval * jitter
        self._due: datetime | None = None

    def offer(self, sample: Sample[T]) -> Sample[T] | None:
        """The sample if it is due, else None (it is superseded by the one that will be let through)."""
        at, due = sample.at, self._due
        if due is not None and due - self.interval - self._tolerance <= at < due - self._tolerance:
            return None
        if due is None or at < due - self.interval - self._tolerance or at >= due + self.interval:
            # The first sample, a clock step backwards, or a silence of a whole interval: restart the grid.
            self._due = at + self.interval
        else:
            # On time: the grid moves one interval. Late: the next slot is an interval after this sample,
            # less the jitter allowance, so a late frame of a ~1 Hz device does not push out the next one.
            self._due = max(due + self.interval, at + self.interval - self._tolerance)
        return sample


@dataclass(frozen=True, slots=True)
class SpotResult(Generic[T]):
    """The spot value of one session, and how it was derived (NHS method, clinical-rules.md §1.5)."""

    sample: Sample[T]  # the frame whose SpO2 is reported: pulse and PI come from the same frame
    spo2: float
    pulse: float | None
    perfusion_index: float | None
    wear_started_at: datetime
    steady_from: datetime
    steady_until: datetime
    qualifying_runs: int
    method: str = NHS_METHOD

    @property
    def derivation(self) -> str:
        worn = (self.steady_until - self.wear_started_at).total_seconds()
        steady = (self.steady_until - self.steady_from).total_seconds()
        return (
            f"{self.method}: highest of {self.qualifying_runs} value(s) steady for ≥5 s after ≥60 s worn; "
            f"SpO2 {self.spo2:g} held {steady:.0f} s, {worn:.0f} s after the finger went in"
        )


@dataclass(frozen=True, slots=True)
class SpotOutcome(Generic[T]):
    """The end of a spot-check session: a result, or the reason there is none."""

    result: SpotResult[T] | None
    reason: str
    started_at: datetime
    ended_at: datetime
    samples: int


@dataclass(slots=True)
class _Run(Generic[T]):
    value: int
    first: Sample[T]
    last: Sample[T]
    qualified: bool = False


class SpotCheckReducer(Generic[T]):
    """Reduces a stream to one NHS-method spot value per session.

    A session starts with the first sample while the finger is in and ends when the finger is removed
    (probe-off), when samples stop for longer than `max_gap_s`, after `max_session_s`, or on `finish()`
    (disconnect). Wear time counts from the first sample with a value; a probe-off restarts it.
    Steadiness compares SpO2 rounded to whole percent, the resolution oximeters display.
    """

    def __init__(
        self,
        *,
        min_wear_s: float = NHS_MIN_WEAR_S,
        steady_s: float = NHS_STEADY_S,
        max_gap_s: float = 3.0,
        max_session_s: float = 600.0,
    ) -> None:
        if min(min_wear_s, steady_s) < 0 or max_gap_s <= 0 or max_session_s <= min_wear_s + steady_s:
            raise ValueError(
                "need min_wear_s, steady_s >= 0, max_gap_s > 0, max_session_s > min_wear_s + steady_s"
            )
        self._min_wear = timedelta(seconds=min_wear_s)
        self._steady = timedelta(seconds=steady_s)
        self._max_gap = timedelta(seconds=max_gap_s)
        self._max_session = timedelta(seconds=max_session_s)
        self._clear()

    def _clear(self) -> None:
        self._started: datetime | None = None
        self._last_at: datetime | None = None
        self._wear_start: datetime | None = None
        self._run: _Run[T] | None = None
        self._best: _Run[T] | None = None
        self._qualifying = 0
        self._samples = 0

    @property
    def in_session(self) -> bool:
        return self._started is not None

    def offer(self, sample: Sample[T]) -> SpotOutcome[T] | None:
        """Feed one sample; returns the outcome of a session this sample ended, else None."""
        ended: SpotOutcome[T] | None = None
        if self._started is not None and self._last_at is not None:
            if sample.at - self._last_at > self._max_gap or sample.at < self._last_at:
                ended = self._end(self._last_at, "samples stopped")
            elif sample.fields.probe_off:
                return self._end(sample.at, "finger removed")
            elif sample.at - self._started > self._max_session:
                ended = self._end(self._last_at, "session reached its maximum length")
        if sample.fields.probe_off:
            return ended
        self._take(sample)
        return ended

    def finish(self, at: datetime) -> SpotOutcome[T] | None:
        """End the session now (e.g. the device disconnected); None when no session was running."""
        if self._started is None:
            return None
        return self._end(at, "device stopped sending")

    def _take(self, sample: Sample[T]) -> None:
        if self._started is None:
            self._started = sample.at
        self._last_at = sample.at
        self._samples += 1
        spo2 = sample.fields.spo2
        if spo2 is None:  # searching: wear goes on, but the value is not steady
            self._run = None
            return
        if self._wear_start is None:
            self._wear_start = sample.at
        if sample.at - self._wear_start < self._min_wear:
            return
        value = round(spo2)
        run = self._run
        if run is None or run.value != value:
            self._run = _Run(value=value, first=sample, last=sample)
            run = self._run
        run.last = sample
        if not run.qualified and run.last.at - run.first.at >= self._steady:
            run.qualified = True
            self._qualifying += 1
            if self._best is None or value > self._best.value:
                self._best = _Run(value=value, first=run.first, last=sample, qualified=True)

    def _end(self, at: datetime, why: str) -> SpotOutcome[T]:
        started = self._started if self._started is not None else at
        best, wear_start, samples, runs = self._best, self._wear_start, self._samples, self._qualifying
        self._clear()
        if best is None or wear_start is None:
            if wear_start is None:
                reason = f"{why}: no valid reading while the finger was in"
            elif at - wear_start < self._min_wear:
                worn = (at - wear_start).total_seconds()
                reason = (
                    f"{why} after {worn:.0f} s; the NHS method needs {self._min_wear.total_seconds():.0f} s"
                )
            else:
                reason = f"{why}: the reading never held steady for {self._steady.total_seconds():.0f} s"
            return SpotOutcome(result=None, reason=reason, started_at=started, ended_at=at, samples=samples)
        chosen = best.last
        result = SpotResult(
            sample=chosen,
            spo2=float(chosen.fields.spo2 if chosen.fields.spo2 is not None else best.value),
            pulse=chosen.fields.pulse,
            perfusion_index=chosen.fields.perfusion_index,
            wear_started_at=wear_start,
            steady_from=best.first.at,
            steady_until=chosen.at,
            qualifying_runs=runs,
        )
        return SpotOutcome(result=result, reason=why, started_at=started, ended_at=at, samples=samples)
