"""The audit log: one entry per /v1 and /fhir request, and one per webhook delivery attempt (a
disclosure to an integrator), appended to the Redis stream ``ox:audit``.

Who (principal id and role, or ``anonymous``), what (method and route *template*), which
patients and wards (noted by the access checks through `note_access`: api/auth.py,
api/resources/access.py and the routes), when, the request id and the outcome (HTTP status).
Never a token, key, password, query string or body. The service only ever appends (XADD) and
reads (XRANGE); nothing trims or edits the stream.

Entries are written by the middleware (api/security/middleware.py) before the response leaves:
if the entry cannot be written, the caller gets a 503 instead of unaudited data.

Ward rosters (the queue, the board and its live stream, ``ROSTER_READS``) show every patient of
the ward, but their entries name the ward only: a queue polled every few seconds by every
clinician would otherwise write the whole ward into the never-trimmed log each time. A query by
patient finds them instead, from the patient's enrolments (their stays on wards): every successful
roster read of a ward while the patient was on it (docs/api.md, "Audit log").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request
from redis.asyncio import Redis

from api import keys
from api.registry import text
from api.stream_ids import cursor_entry, entry_cursor

SCOPE_KEY = "oxiward.audit"
#: Patients noted per entry: a search touching more is recorded with its first ones and a count.
MAX_NOTED = 50
#: Path ids kept per entry (a refused request may carry an absurdly long one).
MAX_TARGET = 300
#: Entries examined per query request (as for reading history, api/queries.py).
SCAN_BUDGET = 10_000
_BATCH = 500
_CURSOR_PREFIX = "a1:"
#: Reads whose answer lists the ward's patients: route template -> for how long after its entry the
#: answer goes on showing them (seconds). The live stream ends by design after at most
#: api/ward_events.py MAX_STREAM_S (a test holds the two together).
ROSTER_READS: dict[str, float] = {
    "/v1/wards/{ward_id}/queue": 0.0,
    "/v1/wards/{ward_id}/board": 0.0,
    "/v1/wards/{ward_id}/events": 600.0,
}
#: An entry is appended when the answer starts, after it was built: a read that began just before a
#: discharge may be appended just after it (a few Redis round trips, each bounded by a 5 s timeout).
ROSTER_GRACE_MS = 30_000


class AuditCursorError(ValueError):
    pass


@dataclass(slots=True)
class AuditContext:
    """What the request did, filled in while it runs; one per /v1 request."""

    request_id: str
    client: str = ""
    actor: str | None = None
    role: str | None = None
    patients: list[str] = field(default_factory=list)
    wards: list[str] = field(default_factory=list)
    noted_total: int = 0

    def note(self, patient_id: str | None = None, ward_id: str | None = None) -> None:
        if patient_id is not None and patient_id not in self.patients:
            self.noted_total += 1
            if len(self.patients) < MAX_NOTED:
                self.patients.append(patient_id)
        if ward_id is not None and ward_id not in self.wards and len(self.wards) < MAX_NOTED:
            self.wards.append(ward_id)


def context_of(request: Request) -> AuditContext | None:
    found = request.scope.get(SCOPE_KEY)
    return found if isinstance(found, AuditContext) else None


def note_access(request: Request, patient_id: str | None = None, ward_id: str | None = None) -> None:
    """Record that this request touches the patient / ward (shown in its audit entry)."""
    ctx = context_of(request)
    if ctx is not None:
        ctx.note(patient_id, ward_id)


def outcome_of(status: int) -> str:
    if status in (401, 403):
        return "denied"
    if status == 429:
        return "rate-limited"
    if status >= 500:
        return "error"
    return "refused" if status >= 400 else "ok"


def _target(path_params: dict[str, Any]) -> str:
    """The other ids in the path (an alert, a device, a user…); patients and wards have fields."""
    text = ",".join(f"{k}={v}" for k, v in sorted(path_params.items()) if k not in ("patient_id", "ward_id"))
    return text[:MAX_TARGET]


def entry(
    ctx: AuditContext, method: str, route: str, status: int, path_params: dict[str, Any]
) -> dict[str, str]:
    # "When" is the entry id: Redis's clock at the append, monotonic, and what from/to filter on.
    return {
        "actor": ctx.actor or "anonymous",
        "role": ctx.role or "",
        "action": "read" if method in ("GET", "HEAD") else "write",
        "method": method,
        "route": route,
        "patients": ",".join(ctx.patients),
        "patients_total": str(ctx.noted_total),
        "wards": ",".join(ctx.wards),
        "target": _target(path_params),
        "status": str(status),
        "outcome": outcome_of(status),
        "request_id": ctx.request_id,
        "client": ctx.client,
    }


async def append(r: Redis, fields: dict[str, str]) -> None:
    entry_fields: dict[Any, Any] = dict(fields)  # redis-py's stubs want a wider key type than str
    await r.xadd(keys.AUDIT, entry_fields)


def disclosure(
    *,
    owner: str,
    role: str,
    event_type: str,
    patient_id: str | None,
    ward_id: str | None,
    status: int,
    ids: dict[str, str],
) -> dict[str, str]:
    """The entry of one webhook delivery attempt: the subscription's owner disclosed the event
    (and the patient it is about) to their receiver. `status` 0: no answer came. `ids`: the
    subscription, event and delivery ids and the attempt; never the URL (it may hold a credential),
    the secret or the body."""
    return {
        "actor": owner or "anonymous",
        "role": role,
        "action": "disclose",
        "method": "POST",
        "route": f"webhook:{event_type}",
        "patients": patient_id or "",
        "patients_total": "1" if patient_id else "0",
        "wards": ward_id or "",
        "target": ",".join(f"{k}={v}" for k, v in sorted(ids.items()))[:MAX_TARGET],
        "status": str(status),
        "outcome": "ok" if 200 <= status < 300 else "error",
        "request_id": ids.get("delivery_id", ""),
        "client": "",
    }


def queue_append(pipe: Any, fields: dict[str, str]) -> None:
    """Append on a sync redis-py pipeline (the delivery workers' threads), with what it records."""
    pipe.xadd(keys.AUDIT, dict[Any, Any](fields))


# -- querying -----------------------------------------------------------------------------
def encode_cursor(entry_id: str) -> str:
    return entry_cursor(_CURSOR_PREFIX, entry_id)


def decode_cursor(cursor: str) -> str:
    entry_id = cursor_entry(_CURSOR_PREFIX, cursor)
    if entry_id is None:
        raise AuditCursorError("the cursor is not one this API issued; start again without it")
    return entry_id


@dataclass(frozen=True, slots=True)
class Stay:
    """A patient's time on a ward (one enrolment), epoch ms; `end_ms` None: still there."""

    ward: str
    start_ms: int
    end_ms: int | None


@dataclass(frozen=True, slots=True)
class Filters:
    actor: str | None = None
    patient: str | None = None
    ward: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    #: The `patient`'s stays: roster reads of those wards at those times show the patient too.
    stays: tuple[Stay, ...] = ()

    def match(self, f: dict[str, str], at_ms: int) -> bool:
        return (
            (self.actor is None or f.get("actor") == self.actor)
            and (
                self.patient is None
                or self.patient in f.get("patients", "").split(",")
                or self._on_roster(f, at_ms)
            )
            and (self.ward is None or self.ward in f.get("wards", "").split(","))
        )

    def _on_roster(self, f: dict[str, str], at_ms: int) -> bool:
        """A successful roster read of a ward the patient was on while the answer was shown."""
        shown_for = ROSTER_READS.get(f.get("route", ""))
        if shown_for is None or f.get("outcome") != "ok":
            return False
        wards = f.get("wards", "").split(",")
        shown_until = at_ms + int(shown_for * 1000)
        return any(
            s.ward in wards
            and s.start_ms <= shown_until
            and (s.end_ms is None or at_ms - ROSTER_GRACE_MS <= s.end_ms)
            for s in self.stays
        )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def query(
    r: Redis, filters: Filters, limit: int, cursor: str | None, budget: int = SCAN_BUDGET
) -> tuple[list[dict[str, Any]], str | None]:
    """Entries oldest first within ``[start, end)``, matching the filters; (items, next cursor)."""
    if filters.end is not None and _ms(filters.end) <= 0:
        return [], None  # nothing is before the epoch (and Redis refuses the exclusive bound "(0-0")
    if cursor is not None:
        low = "(" + decode_cursor(cursor)
    else:
        low = "-" if filters.start is None else f"{_ms(filters.start)}-0"
    high = "+" if filters.end is None else f"({_ms(filters.end)}-0"
    items: list[dict[str, Any]] = []
    examined = 0
    last = ""
    while examined < budget:
        want = min(_BATCH, budget - examined)
        batch = await r.xrange(keys.AUDIT, min=low, max=high, count=want) or []
        for raw_id, raw_fields in batch:
            examined += 1
            if raw_id is None or raw_fields is None:  # typed as possible; XRANGE never returns it
                continue
            last = text(raw_id)
            fields = {text(k): text(v) for k, v in raw_fields.items()}
            if filters.match(fields, int(last.split("-", 1)[0])):
                items.append({"entry_id": last, **fields})
                if len(items) == limit:
                    return items, encode_cursor(last)
        if len(batch) < want:
            return items, None
        low = "(" + last
    return items, encode_cursor(last)
