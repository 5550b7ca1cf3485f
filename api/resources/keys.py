"""Redis keys of the integrator resources (the core layout is api/keys.py; these extend it).

Per-patient keys carry the patient's shard tag, like every key in api/keys.py, so they share a slot
with the patient hash and history and the layout still fits Redis Cluster. Indexes are sorted sets
with every score 0, read with ZRANGEBYLEX: ordered by id, which is what cursor paging needs.

| Key | Type | Holds |
|---|---|---|
| keys.patient(pid) (api/keys.py) | hash | + `nhs`, `dob`, `contact` (JSON), `registered_at`, |
| | | `enrolment` (current id), `discharged_at`, `discharge_reason` |
| `<patient>:enrolments` | hash | enrolment id -> enrolment JSON (admission and discharge) |
| `<patient>:manual` | stream | manual observations (respiration rate, BP, temperature, ACVPU, air/oxygen) |
| `ox:idx:patients`, `ox:idx:enrolments`, `ox:idx:devices`, `ox:idx:gateways` | zset | ids, lexicographic |
| `ox:nhs:<nhs number>` | string | -> patient id (one patient per NHS number) |
| `ox:enrolment:<id>` | string | -> patient id |
| `ox:wardinfo:<ward>` | hash | name, description, created_at |
| `ox:devinfo:<ADDRESS>` | hash | model, serial, registered_at, revoked_at, revoke_reason |
| `ox:gwinfo:<gateway>` | hash | label, registered_at, revoked_at, rotated_at, `passwd` (password-file line) |
"""

from __future__ import annotations

from api import keys


def enrolments_of(patient_id: str) -> str:
    return f"{keys.patient(patient_id)}:enrolments"


def manual(patient_id: str) -> str:
    return f"{keys.patient(patient_id)}:manual"


def nhs(number: str) -> str:
    return f"ox:nhs:{number}"


def enrolment(enrolment_id: str) -> str:
    return f"ox:enrolment:{enrolment_id}"


def ward_info(ward_id: str) -> str:
    return f"ox:wardinfo:{ward_id}"


def device_info(address: str) -> str:
    return f"ox:devinfo:{address.upper()}"


def gateway_info(gateway_id: str) -> str:
    return f"ox:gwinfo:{gateway_id}"


PATIENTS = "ox:idx:patients"
ENROLMENTS = "ox:idx:enrolments"
DEVICES = "ox:idx:devices"
GATEWAYS = "ox:idx:gateways"
