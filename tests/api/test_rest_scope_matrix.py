"""The access matrix: every /v1 and /fhir operation states one scope, refuses a token without it (403), and
every patient- or ward-scoped operation refuses another ward's patient or ward (403).

Routes are discovered from the running app's OpenAPI document, so an endpoint added later is
covered without touching this file; a route that forgets its check fails here.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.fhir import codes
from api.main import create_app
from api.security.roles import ROLE_SCOPES, Role, Scope
from tests.api.rest_support import AUTH, running, settings
from tests.api.security_support import (
    WARD_A,
    WARD_B,
    Seeded,
    api_key,
    bearer,
    key_token,
    refusal,
    seed_two_wards,
)

NO_BEARER = {("POST", "/v1/auth/token")}
PROTECTED = ("/v1/", "/fhir/")
#: Path parameters that name a patient, a ward, or something of a patient's or a ward's (their
#: device, enrolment, FHIR resources, the ward's gateways): the routes holding one must check the
#: caller's ward grants.
WARD_BOUND = {"patient_id", "ward_id", "address", "enrolment_id", "fhir_id", "gateway_id"}
#: Routes whose ward parameter is not patient data: granting wards is administration.
NOT_WARD_DATA = re.compile(r"^/v1/admin/")
#: The positive controls count a 422 as a failure: a documented example the handler refuses means
#: the control never reached what it should prove. Only these operations may answer their example
#: with 422, each because the example cannot be valid by design (the reason says why). None today:
#: examples that carry a time are built relative to the service's start (api/resources/schemas.py).
EXAMPLE_REFUSED_BY_DESIGN: dict[tuple[str, str], str] = {}


SCHEMA = create_app(settings("redis://127.0.0.1:1/0")).openapi()


def _example_body(method: str, path: str, ids: Ids | None = None, ward: str = WARD_A) -> Any:
    """The operation's documented JSON example (a valid body: refusals must not be mere 422s),
    with any ids naming a ward's data (`patient_id`, `enrolment_id`, …) set to ``ward``'s."""
    example = _raw_example(method, path)
    if ids is None or not isinstance(example, dict):
        return example
    return {k: ids[ward][k] if k in WARD_BOUND and k in ids[ward] else v for k, v in example.items()}


def _raw_example(method: str, path: str) -> Any:
    content = SCHEMA["paths"][path][method.lower()].get("requestBody", {}).get("content", {})
    media = content.get("application/json")
    if media is None:
        return {}
    if "example" in media:
        return media["example"]
    if media.get("examples"):
        return next(iter(media["examples"].values())).get("value", {})
    ref = media.get("schema", {}).get("$ref", "")
    examples = SCHEMA["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}).get("examples") or [{}]
    return examples[0]


def _operations() -> list[tuple[str, str, list[str]]]:
    schema = SCHEMA
    found = []
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            if path.startswith(PROTECTED) and (method.upper(), path) not in NO_BEARER:
                requirements = op.get("security", [])
                scopes = requirements[0].get("OAuth2", []) if len(requirements) == 1 else ["<missing>"]
                found.append((method.upper(), path, list(scopes)))
    return found


OPERATIONS = _operations()


def _params(path: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", path))


Ids = dict[str, dict[str, str]]


async def _ids(client: httpx.AsyncClient, seeded: Seeded) -> Ids:
    """Per ward, a value for each path parameter naming that ward's data (looked up as admin)."""
    out: Ids = {}
    for ward, pid, device, alert, gateway in (
        (WARD_A, seeded.a, seeded.a_device, seeded.a_alert, seeded.a_gateway),
        (WARD_B, seeded.b, seeded.b_device, seeded.b_alert, seeded.b_gateway),
    ):
        enrolments = (await client.get(f"/v1/patients/{pid}/enrolments", headers=AUTH)).json()
        observations = (
            await client.get("/fhir/R4/Observation", params={"patient": pid}, headers=AUTH)
        ).json()
        out[ward] = {
            "ward_id": ward,
            "patient_id": pid,
            "alert_id": alert,
            "address": device,
            "gateway_id": gateway,
            "enrolment_id": enrolments["items"][0]["enrolment_id"],
            "Patient": codes.patient_fhir_id(pid),
            "Device": codes.device_fhir_id(device),
            "Observation": observations["entry"][0]["resource"]["id"],
            "principal_id": "u-0123456789abcdef",
        }
    return out


def _parameters(method: str | None, path: str, where: str) -> list[dict[str, Any]]:
    """The operation's parameters `where` (path parameters: of any operation on the path)."""
    ops = SCHEMA["paths"][path]
    chosen = [ops[method.lower()]] if method is not None else list(ops.values())
    params = [p for op in chosen for p in op.get("parameters", []) if p["in"] == where]
    return list({p["name"]: p for p in params}.values())


def _documented(param: dict[str, Any]) -> str | None:
    examples = param.get("schema", {}).get("examples") or param.get("examples") or []
    return str(examples[0]) if examples else None


def _url(path: str, ids: Ids, ward: str) -> str:
    """The path with ``ward``'s ids; other ids as documented (well-formed, so a 404 at most)."""
    values = ids[ward]
    documented = {p["name"]: _documented(p) for p in _parameters(None, path, "path")}

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "fhir_id":  # /fhir/R4/<Resource>/{fhir_id}
            return values[path.split("/")[-2]]
        return values.get(name) or documented.get(name) or "x1"

    return re.sub(r"\{(\w+)\}", value, path)


def _query(method: str, path: str, ids: Ids, ward: str) -> dict[str, str]:
    """The required query parameters: a FHIR search's patient is ``ward``'s, others as documented."""
    out = {}
    for param in _parameters(method, path, "query"):
        if param.get("required"):
            name = param["name"]
            value = ids[ward]["Patient"] if path.startswith("/fhir/") and name == "patient" else None
            out[name] = value or _documented(param) or ""
    return out


def _reached(method: str, path: str, response: httpx.Response) -> bool:
    """Whether a positive control got past authorisation to the operation itself."""
    status = response.status_code
    if status == 422:
        return (method, path) in EXAMPLE_REFUSED_BY_DESIGN
    return status not in (401, 403) and status < 500


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # Many requests and tokens from one client: limits out of the way (test_rest_limits.py covers them).
    app = create_app(settings(redis_url, rate_limit_burst=100_000, auth_rate_limit_burst=100_000))
    async with running(app) as c:
        yield c


def test_every_v1_operation_states_exactly_one_scope() -> None:
    assert len(OPERATIONS) >= 20
    known = {s.value for s in Scope}
    for method, path, scopes in OPERATIONS:
        assert scopes != ["<missing>"], f"{method} {path} must state exactly one security requirement"
        assert len(scopes) <= 1, f"{method} {path} states several scopes: {scopes}"
        assert set(scopes) <= known, f"{method} {path}: unknown scope {scopes}"
    # Every operation of the document, open ones included, states its requirement explicitly.
    unstated = [
        f"{m} {p}" for p, ops in SCHEMA["paths"].items() for m, op in ops.items() if "security" not in op
    ]
    assert unstated == []
    # Only the caller's own endpoints go without a scope (any authenticated principal).
    unscoped = {(m, p) for m, p, s in OPERATIONS if not s}
    assert unscoped == {("GET", "/v1/auth/me"), ("POST", "/v1/auth/revoke")}


async def test_each_operation_refuses_a_token_without_its_scope(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    seeded = await seed_two_wards(client, redis_url)
    ids = await _ids(client, seeded)
    admin = await api_key(client, "administrator", [])
    every = {s.value for s in Scope}
    tokens: dict[str, str] = {}
    failures = []
    for method, path, scopes in OPERATIONS:
        if not scopes:
            continue
        needed = scopes[0]
        if needed not in tokens:
            tokens[needed] = await key_token(client, admin["api_key"], " ".join(sorted(every - {needed})))
        response = await client.request(
            method,
            _url(path, ids, WARD_A),
            json=_example_body(method, path, ids, WARD_A),
            headers=bearer(tokens[needed]),
        )
        status, detail = refusal(response)
        if response.status_code != 403 or status != 403 or needed not in detail:
            failures.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures)


async def test_each_operation_admits_a_token_with_only_its_scope(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    """The positive control of the test above: the refusals were about the scope, nothing else."""
    seeded = await seed_two_wards(client, redis_url)
    ids = await _ids(client, seeded)
    admin = await api_key(client, "administrator", [])
    tokens: dict[str, str] = {}
    failures = []
    for method, path, scopes in OPERATIONS:
        if not scopes or path in ("/v1/auth/revoke",):
            continue
        needed = scopes[0]
        if needed not in tokens:
            tokens[needed] = await key_token(client, admin["api_key"], needed)
        response = await client.request(
            method,
            _url(path, ids, WARD_A),
            params=_query(method, path, ids, WARD_A),
            json=_example_body(method, path, ids, WARD_A),
            headers=bearer(tokens[needed]),
        )
        if not _reached(method, path, response):
            failures.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)


def _names_ward_data(method: str, path: str) -> bool:
    """The path, or the documented body, names a patient, ward, enrolment, device…"""
    body = _raw_example(method, path)
    in_body = isinstance(body, dict) and bool(body.keys() & WARD_BOUND)
    return bool(_params(path) & WARD_BOUND) or in_body


def _ward_scoped() -> list[tuple[str, str, str]]:
    return [
        (m, p, s[0]) for m, p, s in OPERATIONS if s and _names_ward_data(m, p) and not NOT_WARD_DATA.match(p)
    ]


def _role_holding(scope: str) -> Role:
    for role, scopes in ROLE_SCOPES.items():
        if role is not Role.ADMINISTRATOR and Scope(scope) in scopes:
            return role
    raise AssertionError(f"no ward-limited role holds {scope}: nothing to test")


async def _limited_key(client: httpx.AsyncClient, role: Role) -> str:
    """A key of the role granted ward A only; a gateway key is ward A's gateway's (it submits
    readings for its own gateway only)."""
    if role is not Role.GATEWAY:
        return str((await api_key(client, role.value, [WARD_A]))["api_key"])
    body = {"name": "test key", "role": role.value, "wards": [WARD_A], "gateway_id": Seeded.a_gateway}
    response = await client.post("/v1/admin/api-keys", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


async def _limited_tokens(client: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    """Per scope: a key and a JWT of a role holding it, granted ward A only."""
    out: dict[str, dict[str, str]] = {}
    for _, _, scope in _ward_scoped():
        if scope not in out:
            key = await _limited_key(client, _role_holding(scope))
            out[scope] = {"api-key": key, "jwt": await key_token(client, key)}
    return out


async def test_each_ward_scoped_operation_refuses_another_ward(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    seeded = await seed_two_wards(client, redis_url)
    ids = await _ids(client, seeded)
    tokens = await _limited_tokens(client)
    operations = _ward_scoped()
    assert len(operations) >= 9
    failures = []
    for method, path, scope in operations:
        for kind, token in tokens[scope].items():
            response = await client.request(
                method,
                _url(path, ids, WARD_B),
                json=_example_body(method, path, ids, WARD_B),
                headers=bearer(token),
            )
            body: dict[str, Any] = response.json() if response.content else {}
            if response.status_code != 403 or refusal(response)[0] != 403:
                failures.append(f"{method} {path} ({kind}): {response.status_code} {response.text[:120]}")
            # `instance` is the caller's own request path; anything else naming B's data is a leak.
            elif "Bed" in str(body) or seeded.b_device in str({**body, "instance": ""}):
                failures.append(f"{method} {path} ({kind}): the refusal leaks data: {response.text[:200]}")
    assert not failures, "\n".join(failures)


async def test_each_ward_scoped_operation_admits_the_granted_ward(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    seeded = await seed_two_wards(client, redis_url)
    ids = await _ids(client, seeded)
    tokens = await _limited_tokens(client)
    failures = []
    for method, path, scope in _ward_scoped():
        response = await client.request(
            method,
            _url(path, ids, WARD_A),
            params=_query(method, path, ids, WARD_A),
            json=_example_body(method, path, ids, WARD_A),
            headers=bearer(tokens[scope]["jwt"]),
        )
        if not _reached(method, path, response):
            failures.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)


async def test_admin_and_audit_operations_refuse_every_other_role(client: httpx.AsyncClient) -> None:
    keys = {
        role: (await api_key(client, role.value, [WARD_A]))["api_key"]
        for role in Role
        if role is not Role.ADMINISTRATOR
    }
    failures = []
    for method, path, scopes in OPERATIONS:
        if scopes and scopes[0] in (Scope.ADMIN, Scope.AUDIT):
            for role, key in keys.items():
                url = re.sub(
                    r"\{(\w+)\}",
                    lambda m: "u-0123456789abcdef" if m.group(1) == "principal_id" else "x1",
                    path,
                )
                response = await client.request(method, url, json={}, headers=bearer(key))
                if response.status_code != 403:
                    failures.append(f"{role} {method} {path}: {response.status_code}")
    assert not failures, "\n".join(failures)
