"""Replay: run a proposed care plan (or rule setting) over stored history and count the alerts it raises.

So a ward can tune thresholds before switching them on (issue 4; the alarm-burden evidence in §5.3
shows how much limits and delays change alarm counts, S-WELCH, S-ATA, S-LANS16).

Replay runs the same dispatcher and lifecycle as live evaluation, on the readings' measured times
(the replay clock is each reading's `measured_at`, so nothing is "late"). Nobody acknowledges or
resolves during a replay, so a latched alert would stay open for ever and hide every later event of
its rule; by default replay assumes a clinician resolves a latched alert when its condition clears
(`resolve_latched_on_clear`), which counts each separate episode once. Escalation is not replayed:
it depends on people's response times, which history does not hold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from alerting.alerts import Alert, Notification, NotificationKind
from alerting.book import AlertBook
from alerting.careplan import CarePlan
from alerting.continuous import ContinuousState
from alerting.lifecycle import DEFAULT_LATCH_FROM, resolve
from alerting.manual import ManualObservation
from alerting.model import Observation, Priority
from alerting.rules import evaluate_reading

REPLAY_RESOLVER = "replay"
REPLAY_OUTCOME = "replay: assumed resolved when the condition cleared"


@dataclass(frozen=True, slots=True)
class ReplayReport:
    patients: int
    readings: int
    alerts_raised: int
    #: Alerts by their highest priority reached, and by rule.
    by_priority: dict[str, int]
    by_rule: dict[str, int]
    technical: int
    physiological: int
    upgrades: int
    notifications: int
    #: Notifications that would have interrupted someone (Notification.page).
    pages: int
    alerts: tuple[Alert, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "patients": self.patients,
            "readings": self.readings,
            "alerts_raised": self.alerts_raised,
            "by_priority": dict(self.by_priority),
            "by_rule": dict(self.by_rule),
            "technical": self.technical,
            "physiological": self.physiological,
            "upgrades": self.upgrades,
            "notifications": self.notifications,
            "pages": self.pages,
        }


def _replay_one(
    book: AlertBook,
    patient_id: str,
    history: Sequence[Observation],
    plan: CarePlan,
    manual: Sequence[ManualObservation],
    latch_from: Priority,
    resolve_latched_on_clear: bool,
) -> list[Notification]:
    sent: list[Notification] = []
    state: ContinuousState | None = None
    for obs in sorted(history, key=lambda o: o.measured_at):
        now = obs.measured_at
        evaluation = evaluate_reading(obs, plan, now, manual=manual, continuous_state=state)
        state = evaluation.continuous_state
        for note in book.apply_all(patient_id, evaluation.results, now, latch_from=latch_from):
            sent.append(note)
            if resolve_latched_on_clear and note.kind is NotificationKind.CONDITION_CLEARED:
                book.put(resolve(book.get(note.alert_id), REPLAY_RESOLVER, now, REPLAY_OUTCOME))
    return sent


def replay(
    histories: Mapping[str, Sequence[Observation]],
    plan: CarePlan | Mapping[str, CarePlan],
    *,
    manual: Mapping[str, Sequence[ManualObservation]] | None = None,
    latch_from: Priority = DEFAULT_LATCH_FROM,
    resolve_latched_on_clear: bool = True,
) -> ReplayReport:
    """Replay each patient's history under `plan` (one plan for all, or one per patient)."""
    book = AlertBook()
    sent: list[Notification] = []
    for patient_id, history in histories.items():
        patient_plan = plan if isinstance(plan, CarePlan) else plan[patient_id]
        patient_manual = (manual or {}).get(patient_id, ())
        sent += _replay_one(
            book, patient_id, history, patient_plan, patient_manual, latch_from, resolve_latched_on_clear
        )
    alerts = tuple(book.alerts())
    technical = sum(1 for a in alerts if a.technical)
    return ReplayReport(
        patients=len(histories),
        readings=sum(len(h) for h in histories.values()),
        alerts_raised=len(alerts),
        by_priority=dict(Counter(a.priority.value for a in alerts)),
        by_rule=dict(Counter(a.rule for a in alerts)),
        technical=technical,
        physiological=len(alerts) - technical,
        upgrades=sum(1 for n in sent if n.kind is NotificationKind.UPGRADED),
        notifications=len(sent),
        pages=sum(1 for n in sent if n.page),
        alerts=alerts,
    )


def compare(
    histories: Mapping[str, Sequence[Observation]],
    current: CarePlan | Mapping[str, CarePlan],
    proposed: CarePlan | Mapping[str, CarePlan],
    *,
    manual: Mapping[str, Sequence[ManualObservation]] | None = None,
) -> dict[str, object]:
    """Both replays side by side, with the change in alerts raised and pages."""
    before = replay(histories, current, manual=manual)
    after = replay(histories, proposed, manual=manual)
    return {
        "current": before.to_dict(),
        "proposed": after.to_dict(),
        "alerts_change": after.alerts_raised - before.alerts_raised,
        "pages_change": after.pages - before.pages,
    }
