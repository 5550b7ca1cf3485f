"""Deprecated operations announce it: Deprecation, Sunset and successor Link headers, and OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.deprecation import deprecation, deprecation_headers
from api.main import create_app
from tests.api.rest_support import running, settings

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
SUNSET = datetime(2026, 7, 1, tzinfo=UTC)


def test_header_values_follow_rfc_9745_and_8594() -> None:
    headers = deprecation_headers(SINCE, SUNSET, "/v2/things")
    assert headers == {
        "Deprecation": "@1767225600",
        "Sunset": "Wed, 01 Jul 2026 00:00:00 GMT",
        "Link": '</v2/things>; rel="successor-version"',
    }
    assert "Link" not in deprecation_headers(SINCE, SUNSET)
    with pytest.raises(ValueError, match="sunset"):
        deprecation_headers(SUNSET, SINCE)


async def test_a_deprecated_operation_says_so(redis_url: str) -> None:
    app = create_app(settings(redis_url))

    @app.get("/v1/old-thing", deprecated=True, dependencies=[deprecation(SINCE, SUNSET, "/v1/new-thing")])
    async def old_thing() -> dict[str, str]:
        return {"still": "works"}

    async with running(app) as client:
        response = await client.get("/v1/old-thing")
    assert response.status_code == 200
    assert response.json() == {"still": "works"}
    assert response.headers["deprecation"] == "@1767225600"
    assert response.headers["sunset"] == "Wed, 01 Jul 2026 00:00:00 GMT"
    assert response.headers["link"] == '</v1/new-thing>; rel="successor-version"'
    assert app.openapi()["paths"]["/v1/old-thing"]["get"]["deprecated"] is True
