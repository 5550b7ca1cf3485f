"""The audit log: one entry per /v1 and /fhir request, appended to the Redis stream ``ox:audit``.

Who (principal id and role, or ``anonymous``), what (method and route *template*), which
patients and wards (noted by the access checks, api/security/scoping.py), when, the request id
and the outcome (HTTP status). Never a token, key, password, query string or body. The service
only ever appends (XADD) and reads (XRANGE); nothing trims or edits the stream.

Entries are written by the middleware (api/security/middleware.py) before the response leaves:
if the entry cannot be written, the caller gets a 503 instead of unaudited data.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request
from redis.asyncio import Redis

from api import keys
from api.registry import text
from api.stream_ids import usable_entry_id

SCOPE_KEY = "oxiward.audit"
#: Patients noted per entry: a search touching more is recorded with its first ones and a count.
MAX_NOTED = 50
#: Path ids kept per entry (a refused request may carry an absurdly long one).
MAX_TARGET = 300
#: Entries examined per query request (as for reading history, api/queries.py).
SCAN_BUDGET = 10_000
_BATCH = 500
_CURSOR_PREFIX = "a1:"


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


# -- querying -----------------------------------------------------------------------------
def encode_cursor(entry_id: str) -> str:
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + entry_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise AuditCursorError("the cursor is not one this API issued; start again without it") from err
    entry_id = raw.removeprefix(_CURSOR_PREFIX)
    if not raw.startswith(_CURSOR_PREFIX) or not usable_entry_id(entry_id):
        raise AuditCursorError("the cursor is not one this API issued; start again without it")
    return entry_id


@dataclass(frozen=True, slots=True)
class Filters:
    actor: str | None = None
    patient: str | None = None
    ward: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def match(self, f: dict[str, str]) -> bool:
        return (
            (self.actor is None or f.get("actor") == self.actor)
            and (self.patient is None or self.patient in f.get("patients", "").split(","))
            and (self.ward is None or self.ward in f.get("wards", "").split(","))
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
            if filters.match(fields):
                items.append({"entry_id": last, **fields})
                if len(items) == limit:
                    return items, encode_cursor(last)
        if len(batch) < want:
            return items, None
        low = "(" + last
    return items, encode_cursor(last)
