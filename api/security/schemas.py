"""Request and response models of the token, admin and audit endpoints, with examples."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from api.schemas import EntityId, Problem, ShortText, UtcTime
from api.security.principal import Kind
from api.security.roles import Role, Scope
from api.security.secrets import PASSWORD_MAX, PASSWORD_MIN

Username = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]
Password = Annotated[str, StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
Wards = Annotated[list[EntityId], Field(default_factory=list, max_length=500)]


# -- tokens -----------------------------------------------------------------------------
class TokenRequest(BaseModel):
    """RFC 6749 §4.3 (password) or §4.4 (client credentials), as a form or as JSON."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"grant_type": "client_credentials", "client_secret": "oxw_1f0c2d3e4a5b6c7d_" + "x" * 43},
                {
                    "grant_type": "password",
                    "username": "nurse.jb",
                    "password": "correct horse battery",
                    "scope": "ward:read",
                },
            ]
        },
    )

    grant_type: Literal["password", "client_credentials"]
    username: Annotated[str, StringConstraints(max_length=64)] | None = None
    password: Annotated[str, StringConstraints(max_length=PASSWORD_MAX)] | None = None
    client_id: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="optional: the API key's principal id (`k-…`)"
    )
    client_secret: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        default=None, description="the API key (`oxw_…`); or send it with HTTP Basic as the password"
    )
    scope: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="space-separated subset of the role's scopes; omit for all of them"
    )


class TokenResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIs…",
                    "token_type": "Bearer",
                    "expires_in": 900,
                    "scope": "ward:read",
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the RFC 6750 token type, not a secret
    expires_in: int = Field(description="seconds")
    scope: str


class TokenProblem(Problem):
    """Problem details that also carry the RFC 6749 §5.2 `error` code, for OAuth client libraries."""

    error: Literal[
        "invalid_request", "invalid_client", "invalid_grant", "unsupported_grant_type", "invalid_scope"
    ]


class WhoAmI(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "principal_id": "u-4f1c2d3e4a5b6c7d",
                    "kind": "user",
                    "role": "clinician",
                    "scopes": ["alerts:write", "clinical:write", "ward:read"],
                    "wards": ["north-1"],
                    "token_expires_at": "2025-01-14T09:53:00.000Z",
                }
            ]
        }
    )

    principal_id: str
    kind: Kind
    role: Role
    scopes: list[Scope]
    wards: list[str] | None = Field(description="granted wards; null: every ward")
    token_expires_at: UtcTime | None = Field(description="when the presented access token expires")


# -- administration ---------------------------------------------------------------------
class UserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "nurse.jb",
                    "password": "a long passphrase",
                    "role": "clinician",
                    "wards": ["north-1"],
                }
            ]
        },
    )

    username: Username = Field(description="lower case letters, digits, `.`, `_`, `-`; 3-64 characters")
    password: Password
    role: Role
    wards: Wards


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "EPR integration", "role": "integrator", "wards": ["north-1"]},
                {
                    "name": "gw-0042 HTTPS fallback",
                    "role": "gateway",
                    "wards": ["north-1"],
                    "gateway_id": "gw-0042",
                },
            ]
        },
    )

    name: ShortText = Field(description="what the key is for")
    role: Role
    wards: Wards
    gateway_id: EntityId | None = Field(
        default=None,
        description="role `gateway` only: the gateway this key submits readings for "
        "(POST /v1/gateways/{gateway_id}/readings); a gateway key without one may submit for none",
    )

    @model_validator(mode="after")
    def _gateway_keys_only(self) -> ApiKeyCreate:
        if self.gateway_id is not None and self.role is not Role.GATEWAY:
            raise ValueError("gateway_id is for keys of role `gateway` only")
        return self


class PrincipalUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"role": "clinician"}, {"disabled": True}]}
    )

    role: Role | None = None
    disabled: StrictBool | None = None  # 1 or "yes" is no answer to a yes/no question
    password: Password | None = Field(default=None, description="users only; also revokes their tokens")

    @model_validator(mode="after")
    def _something(self) -> PrincipalUpdate:
        if self.role is None and self.disabled is None and self.password is None:
            raise ValueError("give at least one of role, disabled, password")
        return self


_PRINCIPAL_EXAMPLE: dict[str, Any] = {
    "principal_id": "u-4f1c2d3e4a5b6c7d",
    "kind": "user",
    "name": "nurse.jb",
    "role": "clinician",
    "scopes": ["alerts:write", "clinical:write", "ward:read"],
    "wards": ["north-1"],
    "created_at": "2025-01-14T09:00:00.000Z",
    "disabled": False,
    "tokens_not_before": None,
}


class PrincipalRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_PRINCIPAL_EXAMPLE]})

    principal_id: str
    kind: Kind
    name: str
    role: Role
    scopes: list[Scope]
    wards: list[str] | None = Field(description="granted wards; null: every ward (administrator)")
    created_at: UtcTime
    disabled: bool
    tokens_not_before: UtcTime | None = Field(description="tokens issued before this are refused")
    gateway_id: str | None = Field(
        default=None, description="a `gateway` API key's own gateway (the only one it submits for)"
    )


class ApiKeyCreated(PrincipalRead):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**_PRINCIPAL_EXAMPLE, "api_key": "oxw_4f1c2d3e4a5b6c7d_" + "x" * 43}]
        }
    )

    api_key: str = Field(description="shown once, never stored in clear: keep it in a secret store")


class PrincipalList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_PRINCIPAL_EXAMPLE]}]})

    items: list[PrincipalRead]


# -- audit ------------------------------------------------------------------------------
_AUDIT_EXAMPLE: dict[str, Any] = {
    "entry_id": "1736847512345-0",
    "at": "2025-01-14T09:38:32.345Z",
    "actor": "u-4f1c2d3e4a5b6c7d",
    "role": "clinician",
    "action": "read",
    "method": "GET",
    "route": "/v1/patients/{patient_id}/readings",
    "patients": ["p-7f3a9c2e41d8"],
    "patients_total": 1,
    "wards": ["north-1"],
    "target": "",
    "status": 200,
    "outcome": "ok",
    "request_id": "9f2c1b…",
    "client": "10.0.0.7",
}


class AuditEntry(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_AUDIT_EXAMPLE]})

    entry_id: str
    at: UtcTime = Field(description="when the entry was appended (the stream entry id, Redis clock)")
    actor: str = Field(description="principal id, or `anonymous` when no valid credential was given")
    role: str
    action: Literal["read", "write", "disclose"] = Field(
        description="`disclose`: a webhook delivery attempt sent patient data to a subscription's receiver"
    )
    method: str
    route: str = Field(
        description="the route template (ids in `patients` / `wards`); `webhook:<event type>` for a delivery"
    )
    patients: list[str]
    patients_total: int = Field(description="patients touched, when more than `patients` lists")
    wards: list[str]
    target: str = Field(description="other ids in the path, e.g. `alert_id=…` or `principal_id=…`")
    status: int
    outcome: Literal["ok", "refused", "denied", "rate-limited", "error"]
    request_id: str
    client: str


class AuditPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_AUDIT_EXAMPLE], "next_cursor": "YTE6MTczNjg0NzUxMjM0NS0w"}]
        }
    )

    items: list[AuditEntry]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: no more")
