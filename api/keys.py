"""Every Redis key, stream and group name the service uses, in one place.

Keys that belong to one patient carry a hash tag `{ox:sNN}` naming the patient's shard
(CRC32 of the patient id modulo SHARDS). Everything a reading touches on ingest and on
evaluation -- history, de-duplication ids, the shard's evaluation stream, alert state --
therefore sits in one hash slot, so one Lua script or MULTI can update it atomically, and
the layout moves to Redis Cluster unchanged (shards spread over the nodes).
"""

from __future__ import annotations

import zlib

#: Fixed by the key layout: changing it moves every patient to another shard (a migration).
SHARDS = 16

EVAL_GROUP = "evaluators"
DEAD_LETTER = "ox:deadletter"
METRICS = "ox:metrics"


def shard_of(patient_id: str) -> int:
    return zlib.crc32(patient_id.encode("utf-8")) % SHARDS


def tag(shard: int) -> str:
    return f"{{ox:s{shard:02d}}}"


def _p(patient_id: str) -> str:
    return f"ox:{tag(shard_of(patient_id))}:p:{patient_id}"


# -- per patient (slot of the patient's shard) --------------------------------------------
def patient(patient_id: str) -> str:
    """Hash: ward, display reference, enrolled_at."""
    return _p(patient_id)


def readings(patient_id: str) -> str:
    """Stream: the patient's reading history (entry id = ingest time), trimmed by retention."""
    return f"{_p(patient_id)}:readings"


def reading_ids(patient_id: str) -> str:
    """Sorted set: reading ids already stored (score = Redis server time when stored), for idempotent
    ingest; trimmed with the history so the de-duplication window equals the retention window."""
    return f"{_p(patient_id)}:ids"


def alerts(patient_id: str) -> str:
    """Hash: alert id -> alert JSON, every alert of the patient (open and closed)."""
    return f"{_p(patient_id)}:alerts"


# -- per shard ---------------------------------------------------------------------------
def eval_stream(shard: int) -> str:
    """Stream: readings waiting for evaluation, read through consumer group EVAL_GROUP."""
    return f"ox:{tag(shard)}:eval"


def latest(shard: int) -> str:
    """Hash: patient id -> latest reading JSON (by measured time)."""
    return f"ox:{tag(shard)}:latest"


def open_alerts(shard: int) -> str:
    """Hash: patient id -> summary JSON of the patient's worst open alert (the ward queue's input)."""
    return f"ox:{tag(shard)}:open"


def alert_events(shard: int) -> str:
    """Stream: alert lifecycle events (raised, upgraded, acknowledged, resolved)."""
    return f"ox:{tag(shard)}:alert-events"


# -- global lookups (small, rarely written) ----------------------------------------------
def device(address: str) -> str:
    """String: device address (upper case) -> patient id."""
    return f"ox:device:{address.upper()}"


def ward_patients(ward: str) -> str:
    """Set: patient ids enrolled on the ward."""
    return f"ox:ward:{ward}:patients"


def wards() -> str:
    """Set: ward ids."""
    return "ox:wards"


def gateway_status(gateway_id: str) -> str:
    """Hash: last status message of the gateway (from its retained status topic)."""
    return f"ox:gateway:{gateway_id}"
