"""The Lua of the per-minute chart aggregates (api/lua/rollup.lua), put in front of the scripts that use it.

The ingest script folds each reading in the step that stores it; the series script catches up on
history stored before the aggregates were kept at ingest. Both fold with the same Lua functions,
so a reading lands in its minute the same way whichever script folded it.

A reading is *excluded* from chart values (counted, no values: a probe-off 60 % must not draw a
dip) when the device flags it unusable: the *unscorable* Measurement Status and Device and Sensor
Status bits of alerting/quality.py (invalid, unavailable, early estimate, demo/test data,
calibration, probe off, sensor displaced/disconnected/malfunction, equipment malfunction), and
"measurement ongoing" for a spot-check. Questionable readings are charted. The bits are written
into the script as constants, so the rule has one source.
"""

from __future__ import annotations

from importlib.resources import files

from alerting.model import QualityLevel
from alerting.quality import DEVICE_FLAGS, MEASUREMENT_FLAGS, MEASUREMENT_ONGOING_BIT


def _mask(table: dict[int, tuple[str, QualityLevel]]) -> int:
    return sum(1 << bit for bit, (_, level) in table.items() if level is QualityLevel.UNSCORABLE)


MEASUREMENT_MASK = _mask(MEASUREMENT_FLAGS)
DEVICE_MASK = _mask(DEVICE_FLAGS)
ONGOING_MASK = 1 << MEASUREMENT_ONGOING_BIT


def with_rollup(name: str) -> str:
    """The text of api/lua/<name> with the rollup functions and the status masks in front of it."""
    lua = files("api").joinpath("lua")
    masks = f"local MMASK, DMASK, ONGOING = {MEASUREMENT_MASK}, {DEVICE_MASK}, {ONGOING_MASK}\n"
    return (
        masks
        + lua.joinpath("rollup.lua").read_text(encoding="utf-8")
        + lua.joinpath(name).read_text(encoding="utf-8")
    )
