"""HL7 v2.6 ORU^R01 messages of readings, as IHE PCD-01 (Device Enterprise Communication) lays out
(anchors.md §3.2). Pure: readings in (REST form, api/reading_codec.py), ER7 text out.

One message per reading; several are sent as one batch (BHS ... BTS). Per message:

    MSH|^~\\&|OXIWARD^urn:oxiward^URI|<ward>|||<now>||ORU^R01^ORU_R01|<control id>|P|2.6|||AL|NE
       ||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO
    PID|||<NHS number>^^^NHS^NH~<patient id>^^^OXIWARD^PI
    PV1||O|<ward>
    OBR|1|<reading id>^OXIWARD|<reading id>^OXIWARD|182777000^monitoring of patient^SCT|||<measured>
    OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.150456|97|262688^MDC_DIM_PERCENT^MDC|||||R|||<measured>
       ||||<device EUI-48>^EUI-48
    OBX|2|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.1.1.149530|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||...

Codes are IEEE 11073-10101 as checked in anchors.md §3.2 (SpO2 150456, pulse 149530, % 262688,
beats/min 264864), not copied from samples (§3.2 warns of wrong codes in the wild). OBX-4 is the
MDS.VMD.CHAN.METRIC containment path. A value the device did not send, or flagged unusable
(alerting/quality.py), is sent with an empty OBX-5 and result status ``X`` ("results cannot be
obtained"), followed by an NTE saying why; a questionable one keeps its value, with an NTE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerting.model import QualityLevel
from api.reading_quality import quality_of, unusable_reasons

SEGMENT_END = "\r"
IHE_PCD_001 = "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"
MONITORING = "182777000^monitoring of patient^SCT"
#: (vital, OBX-3 observation id, OBX-6 unit) per anchors.md §3.2.
METRICS = (
    ("spo2", "150456^MDC_PULS_OXIM_SAT_O2^MDC", "262688^MDC_DIM_PERCENT^MDC"),
    ("pulse", "149530^MDC_PULS_OXIM_PULS_RATE^MDC", "264864^MDC_DIM_BEAT_PER_MIN^MDC"),
)


@dataclass(frozen=True, slots=True)
class PatientIds:
    patient_id: str
    ward_id: str
    nhs_number: str | None = None


def escape(value: str) -> str:
    """HL7 v2 escaping of the delimiters (\\ first, so escapes are not escaped again)."""
    out = value.replace("\\", "\\E\\")
    for char, seq in (("|", "\\F\\"), ("^", "\\S\\"), ("~", "\\R\\"), ("&", "\\T\\")):
        out = out.replace(char, seq)
    return out.replace("\r", " ").replace("\n", " ")


def hl7_time(iso: str | datetime) -> str:
    moment = datetime.fromisoformat(iso) if isinstance(iso, str) else iso
    moment = moment.astimezone(UTC)
    return f"{moment:%Y%m%d%H%M%S}.{moment.microsecond // 1000:03d}+0000"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _pid(p: PatientIds) -> str:
    ids = [f"{escape(p.patient_id)}^^^OXIWARD^PI"]
    if p.nhs_number is not None:
        ids.insert(0, f"{escape(p.nhs_number)}^^^NHS^NH")
    return "PID|||" + "~".join(ids)


def _eui48(address: str) -> str:
    return escape(address.upper().replace(":", "-")) + "^EUI-48"


def message(reading: dict[str, Any], patient: PatientIds, now: datetime, control_id: str) -> str:
    """One ORU^R01 message (segments joined with CR, no trailing CR)."""
    measured = hl7_time(reading["measured_at"])
    rid = escape(reading["reading_id"])
    ward = escape(patient.ward_id)
    segments = [
        f"MSH|^~\\&|OXIWARD^urn:oxiward^URI|{ward}|||{hl7_time(now)}||ORU^R01^ORU_R01|{escape(control_id)}|P|2.6"
        f"|||AL|NE||UNICODE UTF-8|||{IHE_PCD_001}",
        _pid(patient),
        f"PV1||O|{ward}",
        f"OBR|1|{rid}^OXIWARD|{rid}^OXIWARD|{MONITORING}|||{measured}",
    ]
    quality = quality_of(reading)
    device = _eui48(reading["source"]["device_address"])
    for index, (vital, code, unit) in enumerate(METRICS, start=1):
        value = reading[vital]
        unusable = unusable_reasons(quality, vital)
        path = "1.1.1." + code.split("^", 1)[0]
        if value is None or unusable:
            segments.append(f"OBX|{index}|NM|{code}|{path}||{unit}|||||X|||{measured}||||{device}")
            why = "device sent no value" if value is None else "device flagged: " + ", ".join(unusable)
            segments.append(f"NTE|{index}||{escape(why)}")
            continue
        segments.append(
            f"OBX|{index}|NM|{code}|{path}|{_number(value)}|{unit}|||||R|||{measured}||||{device}"
        )
        if quality.level is QualityLevel.QUESTIONABLE:
            segments.append(f"NTE|{index}||{escape('questionable: ' + ', '.join(quality.reasons))}")
    return SEGMENT_END.join(segments)


def batch(readings: Iterable[dict[str, Any]], patient: PatientIds, now: datetime, batch_id: str) -> str:
    """A BHS/BTS batch of one ORU^R01 per reading; control ids ``<batch id>-<n>``."""
    stamp = hl7_time(now)
    messages = [message(r, patient, now, f"{batch_id}-{n}") for n, r in enumerate(readings, start=1)]
    lines = [f"BHS|^~\\&|OXIWARD^urn:oxiward^URI|{escape(patient.ward_id)}|||{stamp}||||{escape(batch_id)}"]
    lines += messages
    lines.append(f"BTS|{len(messages)}")
    return SEGMENT_END.join(lines) + SEGMENT_END
