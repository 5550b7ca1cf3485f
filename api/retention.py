"""Retention for patients whose readings stopped.

The ingest script trims a patient's history (and its de-duplication ids and chart minutes) each
time a reading is stored, so a patient whose readings stop would keep them past the retention
window, which is a privacy promise (settings `retention_hours`). The scheduler's leader runs this
sweep every `SWEEP_EVERY` over every registered patient: one script call per patient
(api/lua/retention.lua), pipelined in batches.
"""

from __future__ import annotations

from datetime import timedelta

import redis

from api import keys
from api.registry import text
from api.resources import keys as rkeys
from api.rollup_lua import with_rollup

RETENTION_LUA = with_rollup("retention.lua")
#: Readings may outlive the window by at most this much (an hour in fourteen days by default).
SWEEP_EVERY = timedelta(hours=1)
BATCH = 200
#: Minutes of chart aggregates one call may walk: two weeks, so a shortened retention is caught up
#: in one sweep; in steady state a sweep walks the hour since the last one.
MAX_MINUTES = 14 * 24 * 60


class RetentionSweep:
    def __init__(self, client: redis.Redis, retention_ms: int) -> None:
        self._r = client
        self._retention_ms = retention_ms
        self._script = client.register_script(RETENTION_LUA)

    def run(self) -> int:
        """Trim every known patient to the window; the number of history entries removed."""
        ids = self._patients()
        return sum(self._trim(ids[i : i + BATCH]) for i in range(0, len(ids), BATCH))

    def _patients(self) -> list[str]:
        """The patient index and every ward's members (patients enrolled through api/registry.py
        are on a ward set but not in the index)."""
        found = {text(m) for m, _score in self._r.zscan_iter(rkeys.PATIENTS)}
        for ward in self._r.smembers(keys.wards()):
            found |= {text(p) for p in self._r.smembers(keys.ward_patients(text(ward)))}
        return sorted(found)

    def _trim(self, patient_ids: list[str]) -> int:
        pipe = self._r.pipeline(transaction=False)
        for pid in patient_ids:
            self._script(
                keys=[keys.reading_ids(pid), keys.readings(pid), keys.rollup(pid)],
                args=[self._retention_ms, MAX_MINUTES],
                client=pipe,
            )
        return sum(int(n) for n in pipe.execute())
