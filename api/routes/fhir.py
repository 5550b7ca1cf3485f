"""FHIR R4 read API at /fhir/R4: Patient, Device, Observation (read and search), CapabilityStatement.

Resources are built by api/fhir/resources.py and served as `application/fhir+json`; searches
answer `searchset` Bundles with `self` and `next` links (`_cursor` carries the position, `_count`
the page size). A search parameter a search does not support is ignored and left out of the `self`
link, which lists only the parameters applied; with `Prefer: handling=strict` it is an error (400).
Search never returns what the caller's ward grants do not cover: a patient on another ward simply
matches nothing. Every error is an OperationOutcome: those of FHIR parameters
are made here; all others (authentication, scopes, ward grants, validation, unknown paths) by
api/main.py through api/fhir/errors.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from api import keys, queries, registry
from api.auth import note_access
from api.deps import NowDep, Reader, RedisDep
from api.fhir import codes, search
from api.fhir import resources as fhir
from api.fhir.capability import capability_statement
from api.fhir.errors import FHIR_JSON
from api.reading_codec import to_api
from api.resources import devices, patients
from api.resources.access import refusals, require_ward, sees_ward
from api.resources.schemas import PatientDetail
from api.routes.query_params import applied, undeclared, unknown_message
from api.schemas import problem_responses

router = APIRouter(prefix="/fhir/R4", tags=["FHIR R4"], responses=problem_responses(401, 403, 429))
FhirId = Annotated[str, Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$")]
Prefer = Annotated[
    str | None,
    Header(
        alias="Prefer",
        description="`handling=strict`: a search parameter this search does not support is an error "
        "(400), not ignored",
    ),
]
#: Any value is taken, so that every bad one gets the same 400 (api/fhir/search.py `count`).
Count = Annotated[str | None, Query(alias="_count", description=f"1 to {search.MAX_COUNT}")]


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def _docs(example: dict[str, Any], *errors: int) -> dict[int | str, dict[str, Any]]:
    """The success example, and the errors the route answers itself (api/openapi.py documents
    every /fhir error as an OperationOutcome)."""
    out: dict[int | str, dict[str, Any]] = {
        200: {"content": {FHIR_JSON: {"schema": {"type": "object"}, "example": example}}}
    }
    for status in errors:
        out[status] = {"description": "OperationOutcome"}
    return out


def _outcome(status: int, code: str, text: str) -> FhirResponse:
    return FhirResponse(fhir.operation_outcome("error", code, text), status_code=status)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir/R4"


def _unsupported(request: Request, prefer: str | None) -> FhirResponse | None:
    """Under `Prefer: handling=strict`, the 400 naming the parameters the search does not support
    (lenient, the default, ignores them: `_bundle` leaves them out of the `self` link)."""
    unknown = undeclared(request)
    if not unknown or not search.is_strict(prefer):
        return None
    return _outcome(400, "not-supported", unknown_message(request, unknown))


def _bundle(
    request: Request, resources: list[dict[str, Any]], next_cursor: str | None, now: datetime
) -> FhirResponse:
    """The searchset; its `self` link lists only the parameters the search applied (FHIR R4 search
    §3.1.1.2.4), `next` the same with the next page's `_cursor`."""
    url = str(request.base_url).rstrip("/") + request.url.path
    params = applied(request)
    self_url = f"{url}?{urlencode(params)}" if params else url
    kept = [(k, v) for k, v in params if k != "_cursor"]
    next_url = None if next_cursor is None else f"{url}?{urlencode([*kept, ('_cursor', next_cursor)])}"
    stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return FhirResponse(fhir.searchset(_base(request), self_url, next_url, resources, stamp))


_PATIENT_EXAMPLE = {
    "resourceType": "Patient",
    "id": "p-7f3a9c2e41d8",
    "meta": {"profile": [codes.PROFILE_PATIENT]},
    "active": True,
    "identifier": [{"system": codes.NHS_NUMBER, "value": "9434765919"}],
    "birthDate": "1950-03-14",
}
_BUNDLE_EXAMPLE = {
    "resourceType": "Bundle",
    "type": "searchset",
    "timestamp": "2025-01-14T10:00:00.000Z",
    "link": [{"relation": "self", "url": "https://oxiward.example/fhir/R4/Patient?identifier=9434765919"}],
    "entry": [
        {"fullUrl": "https://oxiward.example/fhir/R4/Patient/p-7f3a9c2e41d8", "resource": _PATIENT_EXAMPLE}
    ],
}


@router.get(
    "/metadata", response_class=FhirResponse, responses=_docs({"resourceType": "CapabilityStatement"})
)
async def metadata(request: Request, _: Reader, now: NowDep) -> FhirResponse:
    """The CapabilityStatement: resources, interactions and search parameters supported."""
    return FhirResponse(capability_statement(_base(request), now))


async def _visible_patient(request: Request, principal: Any, r: Any, patient_id: str) -> PatientDetail:
    with refusals():
        found = await patients.require(r, patient_id)
    require_ward(request, principal, found.ward_id, found.patient_id)
    return found


@router.get("/Patient/{fhir_id}", response_class=FhirResponse, responses=_docs(_PATIENT_EXAMPLE, 404))
async def read_patient(request: Request, fhir_id: FhirId, principal: Reader, r: RedisDep) -> FhirResponse:
    """A patient (UK Core Patient) with the NHS number identifier."""
    found = await patients.get(r, codes.patient_id_of(fhir_id))
    if found is None:
        return _outcome(404, "not-found", f"Patient/{fhir_id} is not known")
    require_ward(request, principal, found.ward_id, found.patient_id)
    return FhirResponse(fhir.patient(found))


@router.get("/Patient", response_class=FhirResponse, responses=_docs(_BUNDLE_EXAMPLE, 400))
async def search_patient(
    request: Request,
    principal: Reader,
    r: RedisDep,
    now: NowDep,
    identifier: Annotated[
        str | None, Query(max_length=100, description=f"`{codes.NHS_NUMBER}|<nhs number>`")
    ] = None,
    id_: Annotated[str | None, Query(alias="_id", max_length=64)] = None,
    count: Count = None,
    cursor: Annotated[str | None, Query(alias="_cursor", max_length=200)] = None,
    prefer: Prefer = None,
) -> FhirResponse:
    """Patients by NHS number (`identifier`) or id (`_id`); without either, every patient you may see."""
    if (refused := _unsupported(request, prefer)) is not None:
        return refused
    try:
        limit = search.count(count)
    except search.SearchError as exc:
        return _outcome(400, "invalid", str(exc))
    if identifier is not None or id_ is not None:
        pid: str | None = None if id_ is None else codes.patient_id_of(id_)
        if identifier is not None:
            system, _, value = identifier.rpartition("|")
            if system and system != codes.NHS_NUMBER:
                return _outcome(400, "not-supported", f"identifier system must be {codes.NHS_NUMBER}")
            try:
                by_nhs = await patients.by_nhs_number(r, value)
            except ValueError:
                by_nhs = None
            pid = by_nhs if pid is None or pid == by_nhs else None
        found = None if pid is None else await patients.get(r, pid)
        matches = [found] if found is not None and sees_ward(principal, found.ward_id) else []
        next_cursor = None
    else:
        try:
            page = await patients.scan(r, cursor, limit, lambda p: sees_ward(principal, p.ward_id))
        except queries.CursorError as exc:
            return _outcome(400, "invalid", str(exc))
        matches, next_cursor = page.items, page.next_cursor
    for p in matches:
        note_access(request, patient_id=p.patient_id, ward_id=p.ward_id)
    return _bundle(request, [fhir.patient(p) for p in matches], next_cursor, now)


@router.get(
    "/Device/{fhir_id}", response_class=FhirResponse, responses=_docs({"resourceType": "Device"}, 404)
)
async def read_device(request: Request, fhir_id: FhirId, principal: Reader, r: RedisDep) -> FhirResponse:
    """An oximeter, identified by its Bluetooth address (PHD IG EUI-48 identifier)."""
    [found] = await devices.load_many(r, [codes.device_address_of(fhir_id)])
    if found is None or (found.ward_id is None and principal.wards is not None):
        return _outcome(404, "not-found", f"Device/{fhir_id} is not known")
    if found.ward_id is not None:
        require_ward(request, principal, found.ward_id, found.patient_id)
    return FhirResponse(fhir.device(found))


@router.get("/Device", response_class=FhirResponse, responses=_docs(_BUNDLE_EXAMPLE, 400))
async def search_device(
    request: Request,
    principal: Reader,
    r: RedisDep,
    now: NowDep,
    patient: Annotated[str, Query(max_length=200, description="Patient/<id> or <id>")],
    prefer: Prefer = None,
) -> FhirResponse:
    """The devices assigned to a patient."""
    if (refused := _unsupported(request, prefer)) is not None:
        return refused
    try:
        pid = codes.patient_id_of(search.reference_id(patient, "Patient"))
    except search.SearchError as exc:
        return _outcome(400, "invalid", str(exc))
    record = await registry.get_patient(r, pid)
    if record is None or not sees_ward(principal, record.ward_id):
        return _bundle(request, [], None, now)
    note_access(request, patient_id=pid, ward_id=record.ward_id)
    found = [
        d for d in await devices.load_many(r, list(record.devices)) if d is not None and d.patient_id == pid
    ]
    return _bundle(request, [fhir.device(d) for d in found], None, now)


@router.get(
    "/Observation/{fhir_id}",
    response_class=FhirResponse,
    responses=_docs({"resourceType": "Observation"}, 404),
)
async def read_observation(request: Request, fhir_id: FhirId, principal: Reader, r: RedisDep) -> FhirResponse:
    """One vital sign of one reading (UK Core OxygenSaturation or HeartRate)."""
    parsed = codes.parse_observation_id(fhir_id)
    if parsed is None:
        return _outcome(404, "not-found", f"Observation/{fhir_id} is not known")
    pid, entry_id, kind = parsed
    record = await registry.get_patient(r, pid)
    if record is None:
        return _outcome(404, "not-found", f"Observation/{fhir_id} is not known")
    require_ward(request, principal, record.ward_id, pid)
    rows: list[Any] = await r.xrange(keys.readings(pid), min=entry_id, max=entry_id) or []
    if not rows:
        return _outcome(404, "not-found", f"Observation/{fhir_id} is not known (or past retention)")
    return FhirResponse(fhir.observations(pid, to_api(rows[0][0], rows[0][1]), frozenset(kind))[0])


@router.get("/Observation", response_class=FhirResponse, responses=_docs(_BUNDLE_EXAMPLE, 400))
async def search_observation(
    request: Request,
    principal: Reader,
    r: RedisDep,
    now: NowDep,
    patient: Annotated[
        str | None, Query(max_length=200, description="Patient/<id> or <id> (required)")
    ] = None,
    subject: Annotated[str | None, Query(max_length=200, description="same as `patient`")] = None,
    date: Annotated[list[str] | None, Query(description="e.g. ge2025-01-14&date=lt2025-01-15")] = None,
    code: Annotated[list[str] | None, Query(description="LOINC or MDC, e.g. http://loinc.org|2708-6")] = None,
    category: Annotated[
        list[str] | None, Query(description="`vital-signs`, the category of every Observation here")
    ] = None,
    count: Count = None,
    cursor: Annotated[str | None, Query(alias="_cursor", max_length=200)] = None,
    prefer: Prefer = None,
) -> FhirResponse:
    """A patient's SpO2 and pulse Observations, by measured time (`date`), `code` and `category`
    (all are vital signs: any other category matches none). `patient` and `subject` both given must
    name the same patient to match anything."""
    if (refused := _unsupported(request, prefer)) is not None:
        return refused
    references = [ref for ref in (patient, subject) if ref is not None]
    if not references:
        return _outcome(400, "required", "search by `patient` (or `subject`): Observation?patient=<id>")
    try:
        pids = {codes.patient_id_of(search.reference_id(ref, "Patient")) for ref in references}
        window = search.date_range(date or [])
        kinds = search.kinds_for_codes(code or [])
        limit = search.count(count)
    except search.SearchError as exc:
        return _outcome(400, "invalid", str(exc))
    pid = pids.pop() if len(pids) == 1 else None  # two patients: none matches both
    record = None if pid is None else await registry.get_patient(r, pid)
    matches = bool(kinds) and search.is_vital_signs(category or [])
    if pid is None or record is None or not matches or not sees_ward(principal, record.ward_id):
        return _bundle(request, [], None, now)
    note_access(request, patient_id=pid, ward_id=record.ward_id)
    per_reading = max(1, limit // len(kinds))
    try:
        page = await queries.readings_page(r, pid, window.start, window.end, per_reading, cursor)
    except queries.CursorError as exc:
        return _outcome(400, "invalid", str(exc))
    found = [obs for reading in page.items for obs in fhir.observations(pid, reading, kinds)]
    return _bundle(request, found, page.next_cursor, now)
