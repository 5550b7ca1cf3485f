"""JSON-friendly encoding helpers shared by the alerting dataclasses (`to_dict` / `from_dict`).

Datetimes travel as ISO 8601 strings and must be timezone-aware: a naive time in a clinical record
cannot be placed on the ward's timeline, so it is refused rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from alerting.model import Priority

E = TypeVar("E", bound=StrEnum)


class DecodeError(ValueError):
    """A dict handed to `from_dict` does not describe a valid value; the message says which field."""


def dt_out(moment: datetime | None) -> str | None:
    """Encode an aware datetime (or None) as ISO 8601."""
    return None if moment is None else moment.isoformat()


def dt_in(value: object, field: str) -> datetime:
    """Decode an ISO 8601 string into an aware datetime."""
    if not isinstance(value, str):
        raise DecodeError(f"{field}: expected an ISO 8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise DecodeError(f"{field}: not an ISO 8601 time: {value!r}") from err
    if moment.tzinfo is None:
        raise DecodeError(f"{field}: time must carry a UTC offset, got {value!r}")
    return moment


def opt_dt_in(value: object, field: str) -> datetime | None:
    """Decode an optional ISO 8601 string."""
    return None if value is None else dt_in(value, field)


def priority_in(value: object, field: str) -> Priority:
    """Decode a priority name (high / medium / low / advisory)."""
    try:
        return Priority(value)
    except ValueError as err:
        raise DecodeError(f"{field}: expected one of high/medium/low/advisory, got {value!r}") from err


def opt_priority_in(value: object, field: str) -> Priority | None:
    """Decode an optional priority name."""
    return None if value is None else priority_in(value, field)


def priority_out(priority: Priority | None) -> str | None:
    """Encode a priority (or None) as its name."""
    return None if priority is None else priority.value


def str_in(value: object, field: str) -> str:
    """Decode a string field."""
    if not isinstance(value, str):
        raise DecodeError(f"{field}: expected a string, got {value!r}")
    return value


def opt_str_in(value: object, field: str) -> str | None:
    """Decode an optional string field."""
    return None if value is None else str_in(value, field)


def num_in(value: object, field: str) -> float:
    """Decode a number (bool is refused: `True` is not a SpO2)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(f"{field}: expected a number, got {value!r}")
    return float(value)


def int_in(value: object, field: str) -> int:
    """Decode a whole number."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"{field}: expected a whole number, got {value!r}")
    return value


def bool_in(value: object, field: str) -> bool:
    """Decode a boolean."""
    if not isinstance(value, bool):
        raise DecodeError(f"{field}: expected true or false, got {value!r}")
    return value


def strs_in(value: object, field: str) -> tuple[str, ...]:
    """Decode a list of strings."""
    if not isinstance(value, list | tuple):
        raise DecodeError(f"{field}: expected a list of strings, got {value!r}")
    return tuple(str_in(item, f"{field}[{index}]") for index, item in enumerate(value))


def mapping_in(value: object, field: str) -> Mapping[str, object]:
    """Decode a JSON object."""
    if not isinstance(value, Mapping):
        raise DecodeError(f"{field}: expected an object, got {value!r}")
    return value


def reject_unknown(data: Mapping[str, object], known: frozenset[str], what: str) -> None:
    """Refuse keys we do not know: a misspelt threshold must not be silently ignored."""
    unknown = sorted(set(data) - known)
    if unknown:
        raise DecodeError(f"{what}: unknown field(s) {', '.join(unknown)}")


def enum_in(kind: type[E], value: object, field: str) -> E:
    """Decode a StrEnum member from its value."""
    allowed = ", ".join(member.value for member in kind)
    if not isinstance(value, str) or value not in {member.value for member in kind}:
        raise DecodeError(f"{field}: expected one of {allowed}, got {value!r}")
    return kind(value)
