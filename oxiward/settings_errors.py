"""Turn a settings failure into a message that names the environment variable and the fix.

A wrong setting must stop the process with a message saying what to fix (team brief), never a
traceback. Values are not echoed: a mistyped variable may hold a token or a password.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

T = TypeVar("T")


class UsageError(Exception):
    """A mistake the user can fix; the CLI prints it and exits with status 2."""


def _env_name(prefix: str, loc: tuple[int | str, ...]) -> str:
    # pydantic-settings reads nested models from PREFIX_FIELD__SUB; mirror that spelling.
    return prefix.upper() + "__".join(str(part).upper() for part in loc)


def _problem(error: Any, description: str | None) -> str:
    if error["type"] == "missing":
        return "is not set" + (f" ({description})" if description else "")
    message = str(error["msg"])
    # pydantic prefixes custom validator messages; the rest of the sentence is ours.
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def describe(
    exc: ValidationError, model: type[BaseModel], prefix: str, flags: Mapping[str, str] | None = None
) -> str:
    """One line per wrong variable: `OXIWARD_API_REDIS_URL: must start with redis://...`.

    `flags` maps field names to the command-line flags that can also set them.
    """
    lines = [f"Invalid configuration ({len(exc.errors())} problem(s)); fix these environment variables:"]
    for error in exc.errors():
        loc = tuple(error["loc"])
        if not loc:  # a rule across several fields; its message names them
            lines.append(f"  {_problem(error, None)}")
            continue
        field = model.model_fields.get(str(loc[0])) if loc else None
        description = field.description if field is not None else None
        flag = (flags or {}).get(str(loc[0]))
        name = _env_name(prefix, loc) + (f" (or {flag})" if flag else "")
        lines.append(f"  {name}: {_problem(error, description)}")
    return "\n".join(lines)


def load(
    factory: Callable[[], T], model: type[BaseModel], prefix: str, flags: Mapping[str, str] | None = None
) -> T:
    """Build settings with `factory`; a validation failure becomes a UsageError naming the variables."""
    from pydantic import ValidationError

    try:
        return factory()
    except ValidationError as exc:
        raise UsageError(describe(exc, model, prefix, flags)) from None
