"""Manual observations: respiration rate, systolic BP, temperature, consciousness, air/oxygen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from api.actor import recorded_actor
from api.deps import ClinicalPatient, NowDep, ReadablePatient, RedisDep
from api.resources import observations
from api.resources.access import refusals
from api.resources.schemas import (
    ManualParameter,
    ObservationCreate,
    ObservationPage,
    ObservationRecorded,
    ObservationSetCreate,
    ObservationSetRead,
)
from api.schemas import QueryTime, problem_responses

router = APIRouter(tags=["observations"])


@router.post(
    "/patients/{patient_id}/observations",
    status_code=status.HTTP_201_CREATED,
    response_model=ObservationRecorded,
    responses=problem_responses(404, 422),
)
async def record_observation(
    patient: ClinicalPatient, body: ObservationCreate, request: Request, r: RedisDep, now: NowDep
) -> ObservationRecorded:
    """Record one hand-measured observation; the patient's NEWS2 is scored with it at once (with the
    latest oximeter reading when scorable and fresh), not at the next reading.

    Accepted values (plausibility limits, not clinical thresholds): respiration rate 1–80 /min,
    systolic BP 40–300 mmHg, temperature 25–45 °C, consciousness one of A, C, V, P, U (ACVPU),
    oxygen `air` or `oxygen`. `measured_at` may not be in the future nor over 30 days ago.
    A signed-in clinician is recorded under their own name whatever `by` says; a system (API key)
    records the person it names in `by`.

    `scored` says whether NEWS2 scores it: false when the patient's care plan is not a NEWS2 pack
    (e.g. Oximetry @home bands) or the patient is discharged; it is then stored but raises no alert.
    """
    by = await recorded_actor(request, r, body.by)
    with refusals():
        stored = await observations.record(r, patient.patient_id, body, now, by)
    scored = await observations.will_be_scored(r, patient.patient_id)
    return ObservationRecorded(**stored.model_dump(), scored=scored)


@router.post(
    "/patients/{patient_id}/observation-sets",
    status_code=status.HTTP_201_CREATED,
    response_model=ObservationSetRead,
    responses=problem_responses(404, 422),
)
async def record_observation_set(
    patient: ClinicalPatient, body: ObservationSetCreate, request: Request, r: RedisDep, now: NowDep
) -> ObservationSetRead:
    """Record observations measured together (1 to 5, each parameter once) in one step: all are
    stored or none, and the patient's NEWS2 is scored once with the whole set, so a deteriorating
    set raises its alert at its full level at once rather than a lower one and then an upgrade.

    Each value is checked as by `POST …/observations`; a refused one refuses the set (422, its
    `errors[].loc` naming the item, e.g. `["body", "observations", 1, "value"]`). `measured_at`
    (default: now) may not be in the future nor over 30 days ago. The recorded name follows the
    same rule: a signed-in clinician's own, or for a system the person it names in `by`. `scored`:
    as for one observation, whether NEWS2 scores the set or it is stored for the record only.
    """
    by = await recorded_actor(request, r, body.by)
    with refusals():
        stored = await observations.record_set(r, patient.patient_id, body, now, by)
    scored = await observations.will_be_scored(r, patient.patient_id)
    return ObservationSetRead(observations=stored, scored=scored)


@router.get(
    "/patients/{patient_id}/observations",
    response_model=ObservationPage,
    responses=problem_responses(400, 404),
)
async def list_observations(
    patient: ReadablePatient,
    r: RedisDep,
    parameter: ManualParameter | None = None,
    start: Annotated[QueryTime | None, Query(alias="from", description="measured at or after")] = None,
    end: Annotated[QueryTime | None, Query(alias="to", description="measured before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ObservationPage:
    """The patient's manual observations in the order recorded, filtered by parameter and time."""
    page = await observations.page(r, patient.patient_id, parameter, start, end, limit, cursor)
    return ObservationPage(items=page.items, next_cursor=page.next_cursor)
