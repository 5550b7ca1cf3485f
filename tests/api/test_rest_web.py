"""OpenAPI document, offline docs, and the queue JSON the ward pages render (pages: tests/web/)."""

from __future__ import annotations

import re

from api.main import create_app
from tests.api.rest_support import AUTH, api_client, settings


def test_openapi_documents_every_v1_operation_with_auth_errors_and_examples() -> None:
    schema = create_app(settings("redis://127.0.0.1:1/0")).openapi()
    assert schema["info"]["title"] == "Oxiward"
    assert "OAuth2" in schema["components"]["securitySchemes"]
    operations = [
        (path, op) for path, ops in schema["paths"].items() if path.startswith("/v1/") for op in ops.values()
    ]
    assert len(operations) >= 9
    for path, op in operations:
        # Each operation states its one scope (docs/api.md); the token endpoint needs no bearer.
        expected = 0 if path == "/v1/auth/token" else 1
        assert len(op.get("security", [])) == expected, path
        assert all(set(req) == {"OAuth2"} for req in op["security"]), path
        assert "401" in op["responses"], path
        assert "application/problem+json" in op["responses"]["401"]["content"], path
    assert "/healthz" in schema["paths"]
    assert "/readyz" in schema["paths"]
    assert not any(p.startswith("/ward") for p in schema["paths"])  # the page is not an API
    models = schema["components"]["schemas"]
    for name in (
        "PatientCreate",
        "PatientRead",
        "ReadingPage",
        "ReadingRead",
        "WardQueue",
        "AlertRead",
        "Problem",
    ):
        assert models[name].get("examples"), name


async def test_docs_and_schema_are_served(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        docs = await client.get("/docs")
        schema = await client.get("/openapi.json")
    assert docs.status_code == 200
    assert schema.status_code == 200
    assert "/v1/wards/{ward_id}/queue" in schema.json()["paths"]
    # The docs page must work offline: its script and style come from this service, not a CDN.
    assert "cdn." not in docs.text
    assert "https://" not in docs.text
    async with api_client(redis_url) as client:
        for asset in re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', docs.text):
            assert (await client.get(asset)).status_code == 200, asset


async def test_queue_json_the_page_uses_has_the_fields_it_renders(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        await client.post(
            "/v1/wards/w1/patients", json={"patient_id": "p-1", "ref": "<b>Bed 1</b>"}, headers=AUTH
        )
        queue = (await client.get("/v1/wards/w1/queue", headers=AUTH)).json()
    (item,) = queue["items"]
    assert item["ref"] == "<b>Bed 1</b>"  # stored and returned verbatim; the page sets it as text
    assert set(item) == {"patient_id", "ref", "latest", "band", "worst_alert", "open_alerts"}
