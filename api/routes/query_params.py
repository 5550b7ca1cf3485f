"""Query parameters an operation does not declare (issue 5).

A misspelt filter (`GET /v1/audit?patient_id=…`, the parameter being `patient`) used to be ignored,
so the caller got the whole list unfiltered and took it for the filtered one. Every /v1 operation
now refuses one with a 400 naming it and the parameters the operation takes (`refuse_undeclared`,
a router-level dependency, api/routes/__init__.py). FHIR searches follow FHIR's own rule instead
(api/routes/fhir.py): ignored, and left out of the Bundle's `self` link, unless the client asks
`Prefer: handling=strict`.

What an operation takes is read from its route: the query parameters of its handler and of every
dependency, by their aliases, as FastAPI reads them from the request.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

#: Unknown names quoted back at most this many, each at most this long: they are the caller's
#: input, and a refusal need not repeat a whole query string.
_SHOWN_NAMES = 5
_SHOWN_CHARS = 40


def _query_names(dependant: Dependant) -> list[str]:
    names = [field.alias for field in dependant.query_params]
    for dependency in dependant.dependencies:
        names += _query_names(dependency)
    return names


def declared(route: APIRoute) -> tuple[str, ...]:
    """The query parameters the route takes, in the order declared (a walk of a few objects: not
    worth a cache, which routes, being unhashable, would not key)."""
    return tuple(dict.fromkeys(_query_names(route.dependant)))


def undeclared(request: Request) -> list[str]:
    """The request's query parameters its route does not take (none outside a FastAPI route)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return []
    known = set(declared(route))
    return list(dict.fromkeys(name for name in request.query_params if name not in known))


def applied(request: Request) -> list[tuple[str, str]]:
    """The request's query parameters its route takes, in the order given (repeats kept)."""
    route = request.scope.get("route")
    known = set(declared(route)) if isinstance(route, APIRoute) else set()
    return [(name, value) for name, value in request.query_params.multi_items() if name in known]


def unknown_message(request: Request, unknown: list[str]) -> str:
    """Says which parameters are not known here, and which are."""
    shown = [n if len(n) <= _SHOWN_CHARS else n[:_SHOWN_CHARS] + "…" for n in unknown[:_SHOWN_NAMES]]
    more = f" and {len(unknown) - _SHOWN_NAMES} more" if len(unknown) > _SHOWN_NAMES else ""
    route = request.scope.get("route")
    known = declared(route) if isinstance(route, APIRoute) else ()
    takes = f"takes {', '.join(known)}" if known else "takes no query parameters"
    noun = "parameter" if len(unknown) == 1 else "parameters"
    return f"unknown query {noun} {', '.join(shown)}{more}; this operation {takes}"


async def refuse_undeclared(request: Request) -> None:
    """400 when the request carries a query parameter its operation does not take."""
    unknown = undeclared(request)
    if unknown:
        raise HTTPException(400, unknown_message(request, unknown))
