"""Readings for charts and other systems: downsampled series, CSV export, HL7 v2 ORU^R01 export."""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import StreamingResponse
from redis.asyncio import Redis

from api import downsample, keys, queries
from api.contract import datetime_ms, format_utc_ms
from api.deps import NowDep, ReadablePatient, RedisDep, SettingsDep
from api.hl7_export import PatientIds, batch
from api.reading_quality import quality_of
from api.registry import text
from api.resources.schemas_kit import Series
from api.schemas import QueryTime, problem_responses

router = APIRouter(tags=["readings"])
DAY = timedelta(days=1)
CSV_COLUMNS = [
    "measured_at", "spo2", "pulse", "perfusion_index", "mode", "quality", "quality_reasons", "late",
    "measurement_status", "device_sensor_status", "device_address", "gateway_id", "stored_at", "reading_id",
]  # fmt: skip
_CSV_EXAMPLE = ",".join(CSV_COLUMNS) + (
    "\r\n2025-01-14T09:38:31.000Z,96,72,,spot-check,scorable,,false,,,C0:FF:EE:00:00:03,gw-0042,"
    "2025-01-14T09:38:32.345Z,3f9a0c2d5e7b41c8a6d2f0e1b3c5a7d9\r\n"
)
_HL7_EXAMPLE = (
    "BHS|^~\\&|OXIWARD^urn:oxiward^URI|north-1|||20250114100000.000+0000||||b-1\r"
    "MSH|^~\\&|OXIWARD^urn:oxiward^URI|north-1|||20250114100000.000+0000||ORU^R01^ORU_R01|b-1-1|P|2.6"
    "|||AL|NE||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO\r"
    "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.150456|96|262688^MDC_DIM_PERCENT^MDC|||||R|||...\r"
    "BTS|1\r"
)
_CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE}}},
    **problem_responses(404, 422),
}
_HL7_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/hl7-v2": {"schema": {"type": "string"}, "example": _HL7_EXAMPLE}},
        "headers": {"Oxiward-Next-Cursor": {"schema": {"type": "string"}, "description": "next page"}},
    },
    **problem_responses(400, 404, 422),
}
From = Annotated[
    QueryTime | None, Query(alias="from", description="measured at or after (default: `to` − 24 h)")
]
To = Annotated[QueryTime | None, Query(alias="to", description="measured before (default: now)")]


def _window(
    start: datetime | None, end: datetime | None, now: datetime, retention: timedelta
) -> tuple[datetime, datetime]:
    end = end or now
    start = start or end - DAY
    if end <= start:
        raise HTTPException(422, "`to` must be after `from`")
    if end - start > retention + DAY:
        raise HTTPException(422, f"the range may span at most the retention window ({retention.days} days)")
    return start, end


@router.get(
    "/patients/{patient_id}/readings/series",
    response_model=Series,
    responses=problem_responses(404, 422),
)
async def reading_series(
    patient: ReadablePatient,
    r: RedisDep,
    settings: SettingsDep,
    now: NowDep,
    start: From = None,
    end: To = None,
    bucket_seconds: Annotated[int | None, Query(ge=60, le=86_400, description="a multiple of 60")] = None,
) -> Response:
    """SpO2 and pulse min / max / mean per time bucket, for charts (default: the last 24 h at the
    coarsest whole-minute bucket giving at most 1,500 points, i.e. 1 minute for a day).

    Readings the device flagged unusable (probe off, invalid, ...) are counted in `excluded`
    and add no values. Buckets are aligned to multiples of their size since the epoch; `from`
    and `to` are taken to whole minutes; empty buckets are left out.
    """
    retention = timedelta(hours=settings.retention_hours)
    first, last = _window(start, end, now, retention)
    size = bucket_seconds or downsample.default_bucket(first, last)
    problem = downsample.check_range(first, last, size, retention)
    if problem is not None:
        raise HTTPException(422, problem)
    retention_ms = int(retention.total_seconds() * 1000)
    buckets = await downsample.series_json(r, patient.patient_id, first, last, size, retention_ms)
    head = json.dumps(
        {
            "patient_id": patient.patient_id,
            "from": format_utc_ms(datetime_ms(first)),
            "to": format_utc_ms(datetime_ms(last)),
            "bucket_seconds": size,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    # The buckets arrive as JSON from api/downsample.py in the documented
    # `Series` shape; going through pydantic for ~1,500 of them would cost more than the rest.
    return Response(head[:-1] + b',"buckets":' + buckets.encode() + b"}", media_type="application/json")


def _csv_row(reading: dict[str, Any]) -> list[Any]:
    quality = quality_of(reading)
    status, source = reading["status"], reading["source"]
    return [
        reading["measured_at"], _num(reading["spo2"]), _num(reading["pulse"]),
        _num(reading["perfusion_index"]), reading["mode"], quality.level.value, " ".join(quality.reasons),
        "true" if reading["late"] else "false", status["measurement"], status["device_sensor"],
        source["device_address"], source["gateway_id"], reading["stored_at"], reading["reading_id"],
    ]  # fmt: skip


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(value)


async def _csv(r: Redis, patient_id: str, start: datetime, end: datetime) -> AsyncIterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    cursor: str | None = None
    while True:
        page = await queries.readings_page(r, patient_id, start, end, queries.SCAN_BUDGET, cursor)
        for reading in page.items:
            writer.writerow(_csv_row(reading))
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        cursor = page.next_cursor
        if cursor is None:
            return


@router.get(
    "/patients/{patient_id}/readings.csv",
    response_class=StreamingResponse,
    responses=_CSV_RESPONSES,
)
async def readings_csv(
    patient: ReadablePatient,
    r: RedisDep,
    settings: SettingsDep,
    now: NowDep,
    start: From = None,
    end: To = None,
) -> StreamingResponse:
    """Every reading measured in `[from, to)` as CSV (RFC 4180), in the order stored, with the
    signal quality judged as the alerting judges it (`scorable`, `questionable`, `unscorable`)."""
    first, last = _window(start, end, now, timedelta(hours=settings.retention_hours))
    name = f"readings-{patient.patient_id}-{first:%Y%m%dT%H%M}.csv"
    return StreamingResponse(
        _csv(r, patient.patient_id, first, last),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/patients/{patient_id}/readings.hl7",
    response_class=Response,
    responses=_HL7_RESPONSES,
)
async def readings_hl7(
    patient: ReadablePatient,
    r: RedisDep,
    now: NowDep,
    start: Annotated[QueryTime | None, Query(alias="from")] = None,
    end: Annotated[QueryTime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Readings as an HL7 v2.6 batch of ORU^R01 messages (IHE PCD-01, IEEE 11073 MDC codes), one
    message per reading. Paged like `GET .../readings`: the next cursor is in `Oxiward-Next-Cursor`
    (absent on the last page)."""
    page = await queries.readings_page(r, patient.patient_id, start, end, limit, cursor)
    nhs = await r.hget(keys.patient(patient.patient_id), "nhs")
    ids = PatientIds(patient.patient_id, patient.ward_id, None if nhs is None else text(nhs))
    body = batch(page.items, ids, now, "b-" + secrets.token_hex(6))
    headers = {} if page.next_cursor is None else {"Oxiward-Next-Cursor": page.next_cursor}
    return Response(body, media_type="application/hl7-v2; charset=utf-8", headers=headers)
