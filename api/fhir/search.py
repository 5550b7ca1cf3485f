"""FHIR search parameters the API understands (pure): `date` with prefixes, `code` and `category`
tokens, `_count`, and the client's `Prefer: handling=` choice for the parameters it does not.

`date` (repeatable): a prefix (eq default, ge, gt, le, lt) and a date or dateTime of any FHIR
precision (YYYY, YYYY-MM, YYYY-MM-DD, or a dateTime with seconds and an offset). A value of
lower precision stands for its whole period, e.g. ``date=2025-01-14`` means that UTC day and
``date=lt2025-01-14`` everything before it. Several `date` parameters intersect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.fhir import codes

DEFAULT_COUNT = 50
MAX_COUNT = 500
_DATE = re.compile(r"^(eq|ge|gt|le|lt)?(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_PREFIX = re.compile(r"^(eq|ge|gt|le|lt)?(.+)$")
_MS = timedelta(milliseconds=1)
#: ASCII digits only (str.isdigit would take "²" or "٣", which int() then refuses or reads), and
#: few enough of them for int() (Python refuses over 4300 digits).
_WHOLE = re.compile(r"[0-9]{1,9}")


class SearchError(ValueError):
    """A search parameter this server cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Range:
    start: datetime | None = None
    end: datetime | None = None  # exclusive

    def narrow(self, start: datetime | None, end: datetime | None) -> Range:
        s = self.start if start is None else (start if self.start is None else max(self.start, start))
        e = self.end if end is None else (end if self.end is None else min(self.end, end))
        return Range(s, e)


def _period(value: str) -> tuple[str, datetime, datetime]:
    """(prefix, start, end) of one `date` value."""
    m = _DATE.match(value)
    if m is not None:
        prefix, y, mo, d = m.group(1) or "eq", int(m.group(2)), m.group(3), m.group(4)
        try:
            if d is not None:
                start = datetime(y, int(mo or 1), int(d), tzinfo=UTC)
                return prefix, start, start + timedelta(days=1)
            if mo is not None:
                start = datetime(y, int(mo), 1, tzinfo=UTC)
                nxt = datetime(y + (int(mo) == 12), int(mo) % 12 + 1, 1, tzinfo=UTC)
                return prefix, start, nxt
            return prefix, datetime(y, 1, 1, tzinfo=UTC), datetime(y + 1, 1, 1, tzinfo=UTC)
        except ValueError as err:
            raise SearchError(f"date={value}: not a calendar date") from err
    pm = _PREFIX.match(value)
    if pm is None:
        raise SearchError("date= needs a value, e.g. date=ge2025-01-14")
    prefix, text = pm.group(1) or "eq", pm.group(2)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise SearchError(f"date={value}: expected [prefix]YYYY-MM-DD or a dateTime with an offset") from err
    if moment.tzinfo is None:
        raise SearchError(f"date={value}: a dateTime needs a time zone offset (e.g. Z)")
    return prefix, moment, moment + _MS


def date_range(values: list[str]) -> Range:
    out = Range()
    for value in values:
        prefix, start, end = _period(value.strip())
        if prefix == "eq":
            out = out.narrow(start, end)
        elif prefix == "ge":
            out = out.narrow(start, None)
        elif prefix == "gt":
            out = out.narrow(end, None)
        elif prefix == "le":
            out = out.narrow(None, end)
        else:  # lt
            out = out.narrow(None, start)
    return out


def kinds_for_codes(values: list[str]) -> frozenset[str]:
    """Observation kinds (s, p) matching `code` tokens (``system|code`` or ``code``, comma = or)."""
    if not values:
        return frozenset(codes.CODES_OF_KIND)
    wanted: set[str] = set()
    for value in values:
        for token in value.split(","):
            system, _, code = token.rpartition("|")
            if system and system not in {codes.LOINC, codes.MDC}:
                continue
            wanted |= {k for k, known in codes.CODES_OF_KIND.items() if code in known}
    return frozenset(wanted)


def _vital_signs(token: str) -> bool:
    system, bar, code = token.rpartition("|")
    return code == "vital-signs" and (not bar or system == codes.OBSERVATION_CATEGORY)


def is_vital_signs(values: list[str]) -> bool:
    """Whether `category` tokens (``system|code`` or ``code``; comma = or, repeated = and) match
    the one category every Observation here has, vital-signs."""
    return all(any(_vital_signs(token) for token in value.split(",")) for value in values)


def count(value: str | None) -> int:
    """The page size `_count` asks for; SearchError, one message for every bad value."""
    if value is None:
        return DEFAULT_COUNT
    if not _WHOLE.fullmatch(value) or not 1 <= int(value) <= MAX_COUNT:
        raise SearchError(f"_count must be a whole number from 1 to {MAX_COUNT}")
    return int(value)


def is_strict(prefer: str | None) -> bool:
    """Whether a `Prefer` header asks `handling=strict`: an unknown or unsupported search parameter
    is then an error, not ignored (FHIR R4 search §3.1.1.2.4, lenient is the default)."""
    preferences = (part.split(";", 1)[0].replace(" ", "").lower() for part in (prefer or "").split(","))
    return "handling=strict" in preferences


def reference_id(value: str, resource_type: str) -> str:
    """The id of a reference search value: ``Patient/123``, ``123`` or a full URL ending in one."""
    tail = value.rstrip("/").rsplit("/", 2)
    if len(tail) >= 2 and tail[-2] == resource_type:
        return tail[-1]
    if "/" in value:
        raise SearchError(f"expected a {resource_type} id or {resource_type}/<id>")
    return value
