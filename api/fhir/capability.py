"""The server's CapabilityStatement (FHIR R4): what /fhir/R4 can read and search."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.fhir import codes

_SEARCH: dict[str, list[tuple[str, str, str]]] = {
    "Patient": [
        ("identifier", "token", f"{codes.NHS_NUMBER}|<NHS number>"),
        ("_id", "token", "the patient id"),
    ],
    "Device": [("patient", "reference", "devices assigned to the patient")],
    "Observation": [
        ("patient", "reference", "required (or subject)"),
        ("subject", "reference", "same as patient"),
        ("date", "date", "measured time; prefixes eq, ge, gt, le, lt; repeatable"),
        ("code", "token", "LOINC 2708-6, 59408-5, 8867-4 or MDC 150456, 149530"),
        ("category", "token", "vital-signs, the category of every Observation here; any other matches none"),
    ],
}
_PROFILES = {
    "Patient": [codes.PROFILE_PATIENT],
    "Device": [codes.PROFILE_DEVICE],
    "Observation": [codes.PROFILE_SPO2, codes.PROFILE_HEART_RATE],
}


def capability_statement(base: str, now: datetime) -> dict[str, Any]:
    resources = [
        {
            "type": kind,
            "supportedProfile": _PROFILES[kind],
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": name, "type": kind_of, "documentation": doc} for name, kind_of, doc in _SEARCH[kind]
            ],
        }
        for kind in ("Patient", "Device", "Observation")
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now.date().isoformat(),
        "kind": "instance",
        "software": {"name": "Oxiward"},
        "implementation": {"description": "Oxiward FHIR R4 read API", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {"description": "OAuth2 bearer token with scope ward:read (docs/api.md)"},
                "resource": resources,
            }
        ],
    }
