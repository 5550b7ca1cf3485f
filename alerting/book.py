"""An in-memory alert book: applies rule results through the lifecycle, one open alert per patient and rule.

The pure reference for the API's Redis alert store (style.md practice 19: state lives in an explicit
store; in-memory for tests and replay). It refuses a second open alert for the same patient and rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from alerting.alerts import Alert, AlertRequest, Notification
from alerting.escalation import EscalationLadder, escalate
from alerting.lifecycle import DEFAULT_LATCH_FROM, Transition, clear_condition, propose
from alerting.model import Priority
from alerting.results import RuleResult, Status


class AlertBook:
    def __init__(self, alerts: Iterable[Alert] = ()) -> None:
        self._by_id: dict[str, Alert] = {}
        self._open: dict[tuple[str, str], str] = {}
        for alert in alerts:
            self.put(alert)

    def put(self, alert: Alert) -> None:
        """Store a new or changed alert."""
        key = (alert.patient_id, alert.rule)
        held = self._open.get(key)
        if alert.is_open and held is not None and held != alert.alert_id:
            raise ValueError(
                f"patient already has open alert {held} for rule {alert.rule}: never a duplicate"
            )
        self._by_id[alert.alert_id] = alert
        if alert.is_open:
            self._open[key] = alert.alert_id
        elif held == alert.alert_id:
            del self._open[key]

    def get(self, alert_id: str) -> Alert:
        return self._by_id[alert_id]

    def open_alert(self, patient_id: str, rule: str) -> Alert | None:
        alert_id = self._open.get((patient_id, rule))
        return None if alert_id is None else self._by_id[alert_id]

    def alerts(self) -> list[Alert]:
        """Every alert, open and resolved, in the order first stored."""
        return list(self._by_id.values())

    def open_alerts(self) -> list[Alert]:
        return [self._by_id[alert_id] for alert_id in self._open.values()]

    def _take(self, transition: Transition) -> tuple[Notification, ...]:
        if transition.alert is not None:
            self.put(transition.alert)
        return transition.notifications

    def apply(
        self, patient_id: str, result: RuleResult, now: datetime, *, latch_from: Priority = DEFAULT_LATCH_FROM
    ) -> tuple[Notification, ...]:
        """Apply one rule result: ALERT proposes, CLEAR clears; other statuses change nothing."""
        current = self.open_alert(patient_id, result.rule)
        if result.status is Status.ALERT:
            return self._take(propose(current, AlertRequest.from_result(patient_id, result, now), now))
        if result.status is Status.CLEAR:
            return self._take(clear_condition(current, result.measured_at or now, now, latch_from=latch_from))
        return ()

    def apply_all(
        self,
        patient_id: str,
        results: Iterable[RuleResult],
        now: datetime,
        *,
        latch_from: Priority = DEFAULT_LATCH_FROM,
    ) -> list[Notification]:
        sent: list[Notification] = []
        for result in results:
            sent.extend(self.apply(patient_id, result, now, latch_from=latch_from))
        return sent

    def escalate(self, ladder: EscalationLadder, now: datetime) -> list[Notification]:
        """Run the escalation ladder over the open alerts (the scheduler's tick)."""
        sent: list[Notification] = []
        for transition in escalate(self.open_alerts(), ladder, now):
            sent.extend(self._take(transition))
        return sent
