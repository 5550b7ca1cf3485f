"""Scopes, roles and which scopes each role holds: the table docs/api.md publishes.

A scope is what a token may do; a role is a named bundle of scopes given to a user or an API key
by an administrator. Ward grants are separate (api/security/principal.py): every role but
administrator sees only the wards it has been granted.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    READ = "ward:read"  # patients, readings, alerts, the ward queue, FHIR and HL7 exports
    WRITE = "ward:write"  # enrol and discharge patients, assign devices to an enrolment
    CLINICAL = "clinical:write"  # manual observations, care plans
    ALERTS = "alerts:write"  # acknowledge / resolve alerts
    DEVICES = "devices:write"  # register and revoke devices and gateways, rotate gateway credentials
    READINGS = "readings:write"  # a gateway system submitting readings or its status over REST
    WEBHOOKS = "webhooks:manage"  # an integrator's webhook subscriptions
    AUDIT = "audit:read"  # the audit log
    ADMIN = "admin"  # users, API keys, roles and ward grants


SCOPE_DESCRIPTIONS: dict[str, str] = {
    Scope.READ: "read patients, readings, alerts and the ward queue of granted wards",
    Scope.WRITE: "enrol and discharge patients, assign devices, on granted wards",
    Scope.CLINICAL: "record manual observations and care plans, on granted wards",
    Scope.ALERTS: "acknowledge and resolve alerts, on granted wards",
    Scope.DEVICES: "register and revoke devices and gateways, rotate gateway credentials",
    Scope.READINGS: "submit readings and gateway status (gateway systems)",
    Scope.WEBHOOKS: "manage webhook subscriptions",
    Scope.AUDIT: "read the audit log",
    Scope.ADMIN: "manage users, API keys, roles and ward grants",
}


class Role(StrEnum):
    CLINICIAN = "clinician"
    WARD_ADMINISTRATOR = "ward-administrator"
    INTEGRATOR = "integrator"
    GATEWAY = "gateway"
    ADMINISTRATOR = "administrator"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.CLINICIAN: frozenset({Scope.READ, Scope.CLINICAL, Scope.ALERTS}),
    Role.WARD_ADMINISTRATOR: frozenset({Scope.READ, Scope.WRITE, Scope.DEVICES}),
    Role.INTEGRATOR: frozenset({Scope.READ, Scope.WEBHOOKS}),
    Role.GATEWAY: frozenset({Scope.READINGS}),
    Role.ADMINISTRATOR: frozenset(Scope),
}

#: Roles that see every ward without grants. Everyone else is limited to the wards granted.
ALL_WARD_ROLES = frozenset({Role.ADMINISTRATOR})


def parse_scopes(text: str) -> frozenset[Scope]:
    """A space-separated OAuth scope string (RFC 6749 §3.3); ValueError names an unknown scope."""
    found: set[Scope] = set()
    for item in text.split():
        try:
            found.add(Scope(item))
        except ValueError:
            raise ValueError(f"unknown scope `{item}`") from None
    return frozenset(found)


def format_scopes(scopes: frozenset[Scope]) -> str:
    return " ".join(sorted(scopes))
