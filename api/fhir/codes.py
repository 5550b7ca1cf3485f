"""Code systems, codes and id mappings of the FHIR R4 API (sources: anchors.md §3.1, §3.2).

Ids: FHIR ids are ``[A-Za-z0-9\\-\\.]{1,64}``; ours differ slightly, so they are mapped one to one:
- Patient: our patient id with `_` written as `.` (`.` never occurs in our ids, so it reverses);
- Device: the Bluetooth address with `:` written as `-` (EUI-48 notation, PHD IG); UUID
  addresses (macOS) are already valid;
- Observation: ``<patient fhir id>.<stream entry id>.<s|p>`` (SpO2 or pulse of one reading).
"""

from __future__ import annotations

import re

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MDC = "urn:iso:std:iso:11073:10101"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
MEASUREMENT_STATUS = "http://terminology.hl7.org/CodeSystem/measurement-status"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
#: PHD IG: a Bluetooth address as a Device identifier (EUI-48, dash-separated).
BT_ADDRESS = "http://hl7.org/fhir/sid/eui-48/bluetooth"
DEVICE_ID_TYPES = "http://hl7.org/fhir/uv/phd/CodeSystem/ContinuaDeviceIdentifiers"
READING_ID = "urn:oxiward:reading-id"
UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/"
PROFILE_SPO2 = UK_CORE + "UKCore-Observation-VitalSigns-OxygenSaturation"
PROFILE_HEART_RATE = UK_CORE + "UKCore-Observation-VitalSigns-HeartRate"
PROFILE_PATIENT = UK_CORE + "UKCore-Patient"
PROFILE_DEVICE = UK_CORE + "UKCore-Device"

#: anchors.md §3.1: SpO2 is LOINC 2708-6 (UK Core fixes it) plus 59408-5 "by pulse oximetry"
#: (US Core); UCUM `%`. §3.2: MDC_PULS_OXIM_SAT_O2 = 150456.
SPO2_CODINGS = [
    {"system": LOINC, "code": "2708-6", "display": "Oxygen saturation in Arterial blood"},
    {"system": LOINC, "code": "59408-5", "display": "Oxygen saturation in Arterial blood by Pulse oximetry"},
    {"system": MDC, "code": "150456", "display": "MDC_PULS_OXIM_SAT_O2"},
]
SPO2_UNIT = {"unit": "percent", "system": UCUM, "code": "%"}
#: anchors.md §3.1: heart rate LOINC 8867-4, UCUM `/min`; §3.2: MDC_PULS_OXIM_PULS_RATE = 149530.
PULSE_CODINGS = [
    {"system": LOINC, "code": "8867-4", "display": "Heart rate"},
    {"system": MDC, "code": "149530", "display": "MDC_PULS_OXIM_PULS_RATE"},
]
PULSE_UNIT = {"unit": "per minute", "system": UCUM, "code": "/min"}
VITAL_SIGNS = [
    {"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}
]
#: Search `code=` tokens per kind (s: SpO2, p: pulse).
CODES_OF_KIND = {"s": {"2708-6", "59408-5", "150456"}, "p": {"8867-4", "149530"}}

#: PLX Measurement Status bit (clinical-rules.md §6.1) -> code of the measurement-status code system
#: (terminology.hl7.org, from the PoCD IG), which has only these five of the PLX bits. The other
#: bits are said elsewhere: invalid (15) and not available (13) make the value unscorable, so the
#: Observation carries a dataAbsentReason instead of a value; demo (10) and test (11) data are
#: labelled HTEST in meta.security (PHD IG).
MEASUREMENT_STATUS_CODES = {
    5: "msmt-ongoing",
    6: "early-indication",
    7: "validated-data",
    12: "calibration-ongoing",
    14: "questionable",
}
#: PLX Measurement Status bits of demonstration (10) and test (11) data.
NOT_REAL_DATA_BITS = (1 << 10) | (1 << 11)

_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_MAC = re.compile(r"^[0-9A-F]{2}(?:-[0-9A-F]{2}){5}$")


def patient_fhir_id(patient_id: str) -> str:
    return patient_id.replace("_", ".")


def patient_id_of(fhir_id: str) -> str:
    return fhir_id.replace(".", "_")


def device_fhir_id(address: str) -> str:
    return address.upper().replace(":", "-")


def device_address_of(fhir_id: str) -> str:
    upper = fhir_id.upper()
    return upper.replace("-", ":") if _MAC.match(upper) else upper


def observation_id(patient_id: str, entry_id: str, kind: str, reading_id: str) -> str:
    candidate = f"{patient_fhir_id(patient_id)}.{entry_id}.{kind}"
    # A patient id too long for the combined id: fall back to the reading id (not readable by id).
    return candidate if len(candidate) <= 64 else f"r{reading_id}.{kind}"


def parse_observation_id(fhir_id: str) -> tuple[str, str, str] | None:
    """(patient id, entry id, kind) of an Observation id this server issued, else None."""
    if not _FHIR_ID.match(fhir_id):
        return None
    parts = fhir_id.rsplit(".", 2)
    if len(parts) != 3 or parts[2] not in CODES_OF_KIND or not re.fullmatch(r"\d{1,20}-\d{1,20}", parts[1]):
        return None
    return patient_id_of(parts[0]), parts[1], parts[2]
