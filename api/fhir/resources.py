"""Pure builders of FHIR R4 resources (as JSON-ready dicts) from what the service stores.

Observations follow the UK Core vital-signs profiles (anchors.md §3.1) and the PHD IG habits
(§3.1): one Observation per vital sign of a reading; device reference; the reading id as an
identifier (so a receiver can de-duplicate re-sent readings); PLX Measurement Status as
measurement-status codes in `interpretation` where that code system has them (api/fhir/codes.py);
demo and test data labelled HTEST; and for a value the device flagged unusable
(alerting/quality.py: probe off, invalid, ...) or did not send, no `valueQuantity` but a
`dataAbsentReason` (FHIR obs-6: never both), with the reasons in its text.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from alerting.model import QualityLevel
from api.fhir import codes
from api.reading_quality import quality_of, unusable_reasons
from api.resources.schemas import PatientDetail
from api.resources.schemas_kit import DeviceRead


def _absent(code: str, display: str, text: str) -> dict[str, Any]:
    return {"coding": [{"system": codes.DATA_ABSENT, "code": code, "display": display}], "text": text}


def _interpretation(reading: dict[str, Any], questionable: bool) -> list[dict[str, Any]]:
    bits = reading["status"]["measurement"] or 0
    found = [c for bit, c in sorted(codes.MEASUREMENT_STATUS_CODES.items()) if bits >> bit & 1]
    if questionable and "questionable" not in found:
        found.append("questionable")
    return [{"coding": [{"system": codes.MEASUREMENT_STATUS, "code": c}]} for c in found]


def observations(patient_id: str, reading: dict[str, Any], kinds: frozenset[str]) -> list[dict[str, Any]]:
    """The SpO2 (`s`) and pulse (`p`) Observations of one reading (REST form, reading_codec.to_api)."""
    quality = quality_of(reading)
    questionable = quality.level is QualityLevel.QUESTIONABLE
    out: list[dict[str, Any]] = []
    for kind, field, codings, unit, profile in (
        ("s", "spo2", codes.SPO2_CODINGS, codes.SPO2_UNIT, codes.PROFILE_SPO2),
        ("p", "pulse", codes.PULSE_CODINGS, codes.PULSE_UNIT, codes.PROFILE_HEART_RATE),
    ):
        if kind not in kinds:
            continue
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": codes.observation_id(patient_id, reading["entry_id"], kind, reading["reading_id"]),
            "meta": {"profile": [profile]},
            "identifier": [{"system": codes.READING_ID, "value": f"{reading['reading_id']}.{kind}"}],
            "status": "final",
            "category": codes.VITAL_SIGNS,
            "code": {"coding": codings, "text": "SpO2" if kind == "s" else "Pulse rate"},
            "subject": {"reference": f"Patient/{codes.patient_fhir_id(patient_id)}"},
            "effectiveDateTime": reading["measured_at"],
            "issued": reading["stored_at"],
            "device": {"reference": f"Device/{codes.device_fhir_id(reading['source']['device_address'])}"},
        }
        value = reading[field]
        unusable = unusable_reasons(quality, field)
        if value is None:
            resource["dataAbsentReason"] = _absent("unknown", "Unknown", "the device sent no value")
        elif unusable:
            why = ", ".join(unusable)
            resource["dataAbsentReason"] = _absent("error", "Error", f"device flagged the reading: {why}")
        else:
            resource["valueQuantity"] = {"value": value, **unit}
        interpretation = _interpretation(reading, questionable)
        if interpretation:
            resource["interpretation"] = interpretation
        if (reading["status"]["measurement"] or 0) & codes.NOT_REAL_DATA_BITS:
            # PHD IG: test and demonstration data are labelled HTEST so no one treats them as real.
            resource["meta"]["security"] = [{"system": codes.ACT_REASON, "code": "HTEST"}]
        out.append(resource)
    return out


def patient(p: PatientDetail) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": codes.patient_fhir_id(p.patient_id),
        "meta": {"profile": [codes.PROFILE_PATIENT]},
        "active": p.status == "admitted",
    }
    if p.nhs_number is not None:
        resource["identifier"] = [{"system": codes.NHS_NUMBER, "value": p.nhs_number}]
    if p.date_of_birth is not None:
        resource["birthDate"] = date.isoformat(p.date_of_birth)
    telecom: list[dict[str, Any]] = []
    if p.contact is not None:
        preferred = p.contact.preferred
        if p.contact.phone:
            rank = 1 if preferred in {"phone", "sms"} else 2
            telecom.append({"system": "phone", "value": p.contact.phone, "use": "mobile", "rank": rank})
        if p.contact.email:
            telecom.append(
                {"system": "email", "value": p.contact.email, "rank": 1 if preferred == "email" else 2}
            )
    if telecom:
        resource["telecom"] = telecom
    return resource


def device(d: DeviceRead) -> dict[str, Any]:
    fid = codes.device_fhir_id(d.address)
    if ":" in d.address:
        identifier = {
            "type": {"coding": [{"system": codes.DEVICE_ID_TYPES, "code": "BTMAC"}]},
            "system": codes.BT_ADDRESS,
            "value": fid,
        }
    else:
        identifier = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{d.address.lower()}"}
    resource: dict[str, Any] = {
        "resourceType": "Device",
        "id": fid,
        "meta": {"profile": [codes.PROFILE_DEVICE]},
        "identifier": [identifier],
        "status": "inactive" if d.status == "revoked" else "active",
        "type": {"text": "Pulse oximeter"},
    }
    if d.model:
        resource["modelNumber"] = d.model
    if d.serial:
        resource["serialNumber"] = d.serial
    if d.patient_id:
        resource["patient"] = {"reference": f"Patient/{codes.patient_fhir_id(d.patient_id)}"}
    return resource


def operation_outcome(severity: str, code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }


def searchset(
    base: str, self_url: str, next_url: str | None, resources: list[dict[str, Any]], stamp: str
) -> dict[str, Any]:
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": stamp,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base}/{res['resourceType']}/{res['id']}",
                "resource": res,
                "search": {"mode": "match"},
            }
            for res in resources
        ],
    }
