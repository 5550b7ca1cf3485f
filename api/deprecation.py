"""Marking an operation deprecated (docs/api.md, "Versioning and deprecation").

A deprecated operation keeps working until its sunset date and says so on its responses:

- ``Deprecation: @<unix seconds>`` (RFC 9745): since when it is deprecated;
- ``Sunset: <HTTP-date>`` (RFC 8594): when it may stop working;
- ``Link: <successor>; rel="successor-version"`` when there is a replacement.

Usage: ``@router.get(..., deprecated=True, dependencies=[deprecation(since, sunset, successor)])``;
``deprecated=True`` marks it in the OpenAPI document too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import Depends, Response


def deprecation_headers(since: datetime, sunset: datetime, successor: str | None = None) -> dict[str, str]:
    if sunset <= since:
        raise ValueError("the sunset must come after the deprecation")
    headers = {
        "Deprecation": f"@{int(since.timestamp())}",
        "Sunset": format_datetime(sunset.astimezone(UTC), usegmt=True),
    }
    if successor is not None:
        headers["Link"] = f'<{successor}>; rel="successor-version"'
    return headers


def deprecation(since: datetime, sunset: datetime, successor: str | None = None) -> Any:
    """A route dependency adding the deprecation headers to the operation's responses."""
    headers = deprecation_headers(since, sunset, successor)

    def add(response: Response) -> None:
        response.headers.update(headers)

    return Depends(add)
