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


def rollup(patient_id: str) -> str:
    """Hash: per-minute chart aggregates of the history (api/lua/rollup.lua), kept by the ingest script
    in the same atomic step as the reading, trimmed with it (api/downsample.py)."""
    return f"{_p(patient_id)}:rollup"


def alerts(patient_id: str) -> str:
    """Hash: alert id -> alert JSON, every alert of the patient (open and closed)."""
    return f"{_p(patient_id)}:alerts"


def care_plan(patient_id: str) -> str:
    """String: the patient's current care plan record JSON (version, plan, set_by, reason, set_at)."""
    return f"{_p(patient_id)}:careplan"


def care_plan_history(patient_id: str) -> str:
    """Stream: every care plan version ever set (the audit trail; never trimmed)."""
    return f"{_p(patient_id)}:careplan:history"


def alerting_state(patient_id: str) -> str:
    """Hash: the evaluation state the rules carry between readings (continuous mode, last valid
    reading, gateway and device of the latest reading) -- api/alert_engine.py."""
    return f"{_p(patient_id)}:alerting"


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
    """Stream: alert lifecycle events (raised, upgraded, acknowledged, resolved, escalated, ...)."""
    return f"ox:{tag(shard)}:alert-events"


def notifications(shard: int) -> str:
    """Stream: what should be told to people (alerting.alerts.Notification), `page` = interrupt now."""
    return f"ox:{tag(shard)}:notify"


def shard_metrics(shard: int) -> str:
    """Hash: counters the shard's scripts write in the same atomic step as what they count (alerts
    raised and upgraded, by priority: api/lua/alerts.lua); GET /metrics adds them to METRICS."""
    return f"ox:{tag(shard)}:metrics"


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


def ward_alerting(ward: str) -> str:
    """String: the ward's alerting configuration record JSON (escalation, overdue ladder, schedule, ...).
    Hash-tagged with the ward, like its history, so one MULTI writes both."""
    return f"ox:{{w:{ward}}}:alerting"


def ward_alerting_history(ward: str) -> str:
    """Stream: every version of the ward's alerting configuration (the audit trail)."""
    return f"ox:{{w:{ward}}}:alerting:history"


#: String with a TTL: which process runs the time-based alert rules now (api/scheduler.py).
SCHEDULER_LEASE = "ox:scheduler:lease"


# -- security (api/security/) -------------------------------------------------------------
AUDIT = "ox:audit"
"""Stream: the append-only audit log (api/security/audit.py); never trimmed by the service."""


def principal(principal_id: str) -> str:
    """Hash: a user or API key: kind, name, role, wards, credential hash, not_before, disabled."""
    return f"ox:auth:principal:{principal_id}"


def principals() -> str:
    """Set: every principal id."""
    return "ox:auth:principals"


def username(name: str) -> str:
    """String: username (lower case) -> principal id."""
    return f"ox:auth:user:{name}"


def denied_token(token_id: str) -> str:
    """String with a TTL: a revoked JWT id, kept until the token would have expired."""
    return f"ox:auth:deny:{token_id}"


def rate_bucket(subject: str) -> str:
    """Hash: a principal's token bucket (tokens, last refill time); expires when idle."""
    return f"ox:rl:{subject}"


def web_session(digest: str) -> str:
    """Hash with an idle TTL: a browser sign-in session (api/web_session.py), by SHA-256 of its cookie."""
    return f"ox:web:session:{digest}"
