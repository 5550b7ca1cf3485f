"""Every /v1 and /fhir route needs a valid bearer token; probes, metrics and the page shell are open."""

from __future__ import annotations

import re

import pytest

from api.auth import Authenticator, Role, Scope, fingerprint
from api.main import create_app
from api.security.tokens import TokenConfig
from tests.api.rest_support import AUTH, TOKEN, all_routes, api_client, settings
from tests.api.security_support import refusal

#: Authenticated API prefixes: the REST API and the FHIR read API.
_PROTECTED = ("/v1/", "/fhir/")
# Placeholder values that satisfy each path parameter's pattern (others get "x1").
_PARAMS = {
    "ward_id": "north-1",
    "patient_id": "p-1",
    "alert_id": "a1",
    "address": "C0:FF:EE:00:00:01",
    "principal_id": "u-0123456789abcdef",
}
_OPEN = {
    "/healthz",
    "/readyz",
    "/metrics",
    # the ward pages' shells and assets: no data (the data comes from /v1, authenticated)
    "/ward",
    "/ward/{ward_id}",
    "/ward/{ward_id}/patients/{patient_id}",
    "/ward-assets/{name}",
    "/favicon.ico",
    # a notification's tracked link: its token is the proof (tests/notify/test_read_receipts.py)
    "/n/{delivery_id}",
}
#: The /v1 routes that take no bearer: they exchange a password or API key for a credential.
_NO_BEARER = {("POST", "/v1/auth/token"), ("POST", "/v1/web/session")}
_DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _v1_routes() -> list[tuple[str, str]]:
    app = create_app(settings("redis://127.0.0.1:1/0"))
    return [(m, p) for m, p in all_routes(app) if p.startswith(_PROTECTED) and (m, p) not in _NO_BEARER]


V1_ROUTES = _v1_routes()


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: _PARAMS.get(m.group(1), "x1"), path)


def test_the_route_list_is_complete() -> None:
    """Guards the parametrisation below: if route discovery broke, the 401 tests would be vacuous."""
    app = create_app(settings("redis://127.0.0.1:1/0"))
    documented = {
        (method.upper(), path)
        for path, ops in app.openapi()["paths"].items()
        if path.startswith(_PROTECTED)
        for method in ops
    }
    assert len(documented) >= 9
    assert documented <= set(V1_ROUTES) | _NO_BEARER
    unexpected = {p for _, p in all_routes(app)} - _OPEN - _DOCS - {p for _, p in {*V1_ROUTES, *_NO_BEARER}}
    assert unexpected == set(), f"routes outside /v1 must be added to _OPEN deliberately: {unexpected}"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdef"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer oxw_0123456789abcdef_" + "a" * 43},
        {"Authorization": "Bearer e30.e30.c2ln"},
    ],
    ids=["missing", "wrong", "longer", "basic-scheme", "empty", "unknown-api-key", "unsigned-jwt"],
)
async def test_every_protected_route_refuses_missing_or_wrong_token(
    redis_url: str, headers: dict[str, str]
) -> None:
    """One app, every route (the list grows with the API; one app per route would be slow)."""
    assert len(V1_ROUTES) >= 9
    failures = []
    async with api_client(redis_url) as client:
        for method, path in V1_ROUTES:
            response = await client.request(method, _url(path), headers=headers, json={})
            status, detail = refusal(response)  # problem details, or an OperationOutcome under /fhir
            if (
                response.status_code != 401
                or not response.headers.get("www-authenticate", "").startswith('Bearer realm="oxiward"')
                or status != 401
                or not detail
                or TOKEN in response.text
            ):
                failures.append(f"{method} {path}: {response.status_code} {response.text[:100]}")
    assert not failures, "\n".join(failures)


async def test_valid_token_is_accepted(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        response = await client.get("/v1/wards", headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None, "wards": []}


async def test_any_configured_token_is_accepted(redis_url: str) -> None:
    other = "second-token-abcdefghijklmnop"
    async with api_client(redis_url, api_tokens=f"{TOKEN}, {other}") as client:
        for token in (TOKEN, other):
            response = await client.get("/v1/wards", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/ward", "/ward/north-1", "/ward-assets/ward.css"])
async def test_probes_and_page_shell_need_no_token(redis_url: str, path: str) -> None:
    async with api_client(redis_url) as client:
        response = await client.get(path)
    assert response.status_code == 200


def test_bootstrap_tokens_match_exactly_and_are_administrators() -> None:
    auth = Authenticator(["a" * 16, "b" * 20], TokenConfig(b"k" * 32, "oxiward", "oxiward-api", 900))
    admin = auth.bootstrap("a" * 16)
    assert admin is not None
    assert admin.subject == fingerprint("a" * 16)
    assert admin.role is Role.ADMINISTRATOR
    assert admin.scopes == frozenset(Scope)
    assert admin.wards is None  # every ward
    assert auth.bootstrap("b" * 20) is not None
    for wrong in ("a" * 15, "a" * 17, "", "b" * 20 + " ", "ä" * 16):
        assert auth.bootstrap(wrong) is None
    assert "a" * 16 not in fingerprint("a" * 16)


async def test_missing_scope_is_403_naming_the_scope(redis_url: str) -> None:
    """A clinician's API key can read the wards but not enrol (ward:write)."""
    async with api_client(redis_url) as client:
        body = {"name": "reader", "role": "clinician", "wards": ["north-1"]}
        created = await client.post("/v1/admin/api-keys", json=body, headers=AUTH)
        key = {"Authorization": f"Bearer {created.json()['api_key']}"}
        denied = await client.post("/v1/wards/north-1/patients", json={"ref": "Bed 1"}, headers=key)
        allowed = await client.get("/v1/wards", headers=key)
    assert created.status_code == 201, created.text
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    assert "ward:write" in denied.json()["detail"]
    assert allowed.status_code == 200
