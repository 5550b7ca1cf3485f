"""Every /v1 route needs a valid bearer token; probes and the page shell are open."""

from __future__ import annotations

import re

import pytest

from api.auth import (
    AuthError,
    Principal,
    Scope,
    StaticTokenAuthenticator,
    authenticate,
    fingerprint,
    requires,
)
from api.main import create_app
from tests.api.rest_support import AUTH, TOKEN, all_routes, api_client, running, settings

# Placeholder values that satisfy each path parameter's pattern.
_PARAMS = {
    "ward_id": "north-1",
    "patient_id": "p-1",
    "alert_id": "a1",
    "address": "C0:FF:EE:00:00:01",
}
_OPEN = {"/healthz", "/readyz", "/ward", "/ward/{ward_id}", "/ward-assets/{name}"}
_DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _v1_routes() -> list[tuple[str, str]]:
    app = create_app(settings("redis://127.0.0.1:1/0"))
    return [(m, p) for m, p in all_routes(app) if p.startswith("/v1/")]


V1_ROUTES = _v1_routes()


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: _PARAMS[m.group(1)], path)


def test_the_route_list_is_complete() -> None:
    """Guards the parametrisation below: if route discovery broke, the 401 tests would be vacuous."""
    app = create_app(settings("redis://127.0.0.1:1/0"))
    documented = {
        (method.upper(), path)
        for path, ops in app.openapi()["paths"].items()
        if path.startswith("/v1/")
        for method in ops
    }
    assert len(documented) >= 9
    assert documented <= set(V1_ROUTES)
    unexpected = {p for _, p in all_routes(app)} - _OPEN - _DOCS - {p for _, p in V1_ROUTES}
    assert unexpected == set(), f"routes outside /v1 must be added to _OPEN deliberately: {unexpected}"


@pytest.mark.parametrize(("method", "path"), V1_ROUTES, ids=[f"{m} {p}" for m, p in V1_ROUTES])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdef"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
    ],
    ids=["missing", "wrong", "longer", "basic-scheme", "empty"],
)
async def test_v1_route_refuses_missing_or_wrong_token(
    redis_url: str, method: str, path: str, headers: dict[str, str]
) -> None:
    async with api_client(redis_url) as client:
        response = await client.request(method, _url(path), headers=headers, json={})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="oxiward"')
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 401
    assert body["detail"]
    assert TOKEN not in response.text


async def test_valid_token_is_accepted(redis_url: str) -> None:
    async with api_client(redis_url) as client:
        response = await client.get("/v1/wards", headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"wards": []}


async def test_any_configured_token_is_accepted(redis_url: str) -> None:
    other = "second-token-abcdefghijklmnop"
    async with api_client(redis_url, api_tokens=f"{TOKEN}, {other}") as client:
        for token in (TOKEN, other):
            response = await client.get("/v1/wards", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/ward", "/ward/north-1", "/ward-assets/ward.js"])
async def test_probes_and_page_shell_need_no_token(redis_url: str, path: str) -> None:
    async with api_client(redis_url) as client:
        response = await client.get(path)
    assert response.status_code == 200


def test_authenticator_matches_exact_tokens_only() -> None:
    auth = StaticTokenAuthenticator(["a" * 16, "b" * 20])
    assert auth.authenticate("a" * 16) == Principal(fingerprint("a" * 16), frozenset(Scope))
    assert auth.authenticate("b" * 20) is not None
    for wrong in ("a" * 15, "a" * 17, "", "b" * 20 + " ", "ä" * 16):
        assert auth.authenticate(wrong) is None
    assert "a" * 16 not in fingerprint("a" * 16)


async def test_missing_scope_is_403_so_scoped_tokens_can_be_added(redis_url: str) -> None:
    """Scopes are checked per route; a reader-only principal (not issuable yet) cannot enrol."""
    app = create_app(settings(redis_url))
    app.dependency_overrides[authenticate] = lambda: Principal("token:reader", frozenset({Scope.READ}))
    async with running(app) as client:
        denied = await client.post("/v1/wards/north-1/patients", json={"ref": "Bed 1"})
        allowed = await client.get("/v1/wards")
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    assert "ward:write" in denied.json()["detail"]
    assert allowed.status_code == 200
    with pytest.raises(AuthError):
        requires(Scope.ALERTS)(Principal("token:reader", frozenset({Scope.READ})))
