"""No black holes: a notification nobody could be sent becomes a technical alert on the patient.

The alert goes through the same lifecycle and atomic save as every other (api/alert_engine.py,
api/alert_store.py), so it shows on the ward queue -- the channel that cannot fail silently -- and is
itself notified and escalated. While one is open, further failures add nothing (the lifecycle does
not raise the same rule twice), so a broken channel cannot flood the ward.
"""

from __future__ import annotations

from datetime import datetime

from alerting.model import Priority
from alerting.results import RuleResult, Status
from api.alert_engine import PatientAlerts, Step, latch_for
from api.alert_record import cause_of
from api.alert_store import SyncAlertStore

DELIVERY_FAILED_RULE = "notification-delivery-failed"
#: Medium: someone must look soon (a clinician may not have been told), and it escalates (§5.2).
DELIVERY_FAILED_PRIORITY = Priority.MEDIUM


def raise_delivery_failed(store: SyncAlertStore, patient_id: str, channel: str, now: datetime) -> bool:
    """Raise (or keep) the technical alert; True once saved or already open."""
    result = RuleResult(
        DELIVERY_FAILED_RULE,
        Status.ALERT,
        DELIVERY_FAILED_PRIORITY,
        technical=True,
        measured_at=now,
        reasons=(f"{channel}-delivery-dead-lettered",),
    )
    for _ in range(10):
        [raw] = store.get_open_many([(patient_id, DELIVERY_FAILED_RULE)])
        if isinstance(raw, Exception):
            raise raw
        step = Step(PatientAlerts(patient_id, {DELIVERY_FAILED_RULE: raw} if raw else {}), now)
        step.apply(result, latch_for(DELIVERY_FAILED_RULE, Priority.HIGH), cause_of(result, None, None))
        if not step.change.alerts:
            return True
        [outcome] = store.save_many([step.change])
        if isinstance(outcome, Exception):
            raise outcome
        if outcome == "ok":
            return True
    return False
