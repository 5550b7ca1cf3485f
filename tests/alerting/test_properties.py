"""Property-based invariants of the lifecycle, escalation, continuous mode and NEWS2 (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alerting import news2
from alerting.alerts import AlertRequest, Notification, NotificationKind
from alerting.book import AlertBook
from alerting.continuous import Change, ContinuousSettings, ContinuousState, advance
from alerting.escalation import escalate, ward_ladder
from alerting.lifecycle import LifecycleError, acknowledge, clear_condition, propose, resolve, snooze
from alerting.model import Priority

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
RULES = ("o2home-band", "bts")
LADDER = ward_ladder(300, 300, 300)
MAX_SNOOZE = timedelta(minutes=30)

priorities = st.sampled_from(list(Priority))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("propose"), st.sampled_from(RULES), priorities, st.booleans()),
        st.tuples(st.just("clear"), st.sampled_from(RULES)),
        st.tuples(st.just("ack"), st.sampled_from(RULES)),
        st.tuples(st.just("resolve"), st.sampled_from(RULES)),
        st.tuples(st.just("snooze"), st.sampled_from(RULES), st.integers(min_value=1, max_value=30)),
        st.tuples(
            st.just("tick"),
        ),
    ),
    min_size=5,
    max_size=60,
)


@dataclass
class Run:
    book: AlertBook = field(default_factory=AlertBook)
    resolved: set[str] = field(default_factory=set)
    sent: list[tuple[int, Notification]] = field(default_factory=list)
    priority_seen: dict[str, Priority] = field(default_factory=dict)
    snooze_violations: list[str] = field(default_factory=list)


def step(run: Run, index: int, op: tuple[object, ...]) -> None:
    """Apply one operation at minute `index`; record what the invariants need."""
    now = T0 + timedelta(minutes=index)
    book = run.book
    kind = op[0]
    rule = str(op[1]) if len(op) > 1 else ""
    current = book.open_alert("p1", rule) if rule else None
    notes: tuple[Notification, ...] | list[Notification] = ()
    if kind == "propose":
        priority, late = op[2], op[3]
        assert isinstance(priority, Priority)
        assert isinstance(late, bool)
        transition = propose(current, AlertRequest("p1", rule, priority, now, late=late), now)
        snoozed_below = current is not None and current.is_snoozed(now) and priority > current.priority
        notes = transition.notifications
        if snoozed_below and not any(n.kind is NotificationKind.UPGRADED for n in notes):
            run.snooze_violations.append(f"minute {index}: {priority} silenced by a snooze")
        assert transition.alert is not None
        book.put(transition.alert)
    elif kind == "clear":
        transition = clear_condition(current, now, now)
        notes = transition.notifications
        if transition.alert is not None:
            book.put(transition.alert)
    elif kind == "tick":
        notes = book.escalate(LADDER, now)
    elif current is not None and kind == "ack" and current.state.value == "open":
        book.put(acknowledge(current, "nurse.a", now))
    elif current is not None and kind == "resolve":
        book.put(resolve(current, "dr.b", now, "seen"))
    elif current is not None and kind == "snooze":
        minutes = op[2]
        assert isinstance(minutes, int)
        # The clinician sees the alert as it stands (a running snooze is changed knowingly).
        length, seen = timedelta(minutes=minutes), current.snoozed_until
        try:
            book.put(snooze(current, "nurse.a", now, length, max_snooze=MAX_SNOOZE, seen_until=seen))
        except LifecycleError:  # only the cap on snoozes in a row may refuse it
            assert current.is_snoozed(now)
            assert current.snoozed_since is not None
            assert now + length - current.snoozed_since > MAX_SNOOZE
    run.sent += [(index, n) for n in notes]
    for alert in book.alerts():
        if alert.is_open:
            assert alert.priority >= run.priority_seen.get(alert.alert_id, alert.priority)
            if alert.is_snoozed(now):  # snoozes in a row never hold it longer than the maximum
                assert alert.snoozed_until is not None
                assert alert.snoozed_since is not None
                assert alert.snoozed_until - alert.snoozed_since <= MAX_SNOOZE
            run.priority_seen[alert.alert_id] = alert.priority
    # ids resolved *before* this step must not appear in this step's notifications
    assert not {n.alert_id for n in notes} & run.resolved, f"resolved alert notified at minute {index}"
    run.resolved |= {a.alert_id for a in book.alerts() if not a.is_open}


@settings(max_examples=200, deadline=None)
@given(operations)
def test_lifecycle_invariants_hold_for_any_sequence(ops: list[tuple[object, ...]]) -> None:
    """A resolved alert never notifies; a worse reading never lowers an open alert; a snooze never silences a
    higher priority; and there is never more than one open alert per patient and rule (AlertBook.put)."""
    run = Run()
    for index, op in enumerate(ops):
        step(run, index, op)
    assert run.snooze_violations == []
    for rule in RULES:
        assert sum(1 for a in run.book.open_alerts() if a.rule == rule) <= 1


@settings(max_examples=200, deadline=None)
@given(operations, st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=10), priorities)
def test_a_snooze_never_silences_a_higher_priority(
    prefix: list[tuple[object, ...]], snooze_minutes: int, later: int, proposed: Priority
) -> None:
    """Whatever state an alert reached: snooze it, then a higher priority within the snooze still notifies."""
    run = Run()
    for index, op in enumerate(prefix):
        step(run, index, op)
    start = len(prefix)
    step(run, start, ("propose", "bts", Priority.ADVISORY, False))  # make sure an alert is open
    step(run, start + 1, ("snooze", "bts", snooze_minutes))
    alert = run.book.open_alert("p1", "bts")
    assert alert is not None
    before = alert.priority
    minute = start + 2 + min(later, snooze_minutes - 1)  # still inside the snooze
    step(run, minute, ("propose", "bts", proposed, False))
    sent = [n for index, n in run.sent if index == minute and n.rule == "bts"]
    if proposed > before:
        assert [n.kind for n in sent] == [NotificationKind.UPGRADED]
    assert run.snooze_violations == []


@settings(max_examples=200, deadline=None)
@given(
    operations, st.lists(st.tuples(st.sampled_from(["propose", "clear", "tick"]), priorities), max_size=20)
)
def test_a_resolved_alert_never_notifies(
    prefix: list[tuple[object, ...]], afterwards: list[tuple[str, Priority]]
) -> None:
    """Whatever an alert went through, once resolved nothing done to it notifies about it again."""
    run = Run()
    for index, op in enumerate(prefix):
        step(run, index, op)
    start = len(prefix)
    step(run, start, ("propose", "bts", Priority.ADVISORY, False))  # make sure an alert is open
    alert = run.book.open_alert("p1", "bts")
    assert alert is not None
    closed = resolve(alert, "dr.b", T0 + timedelta(minutes=start + 1), "seen")
    for offset, (kind, priority) in enumerate(afterwards, start=start + 2):
        now = T0 + timedelta(minutes=offset)
        if kind == "propose":
            notes = propose(closed, AlertRequest("p1", "bts", priority, now), now).notifications
        elif kind == "clear":
            notes = clear_condition(closed, now, now).notifications
        else:
            notes = tuple(n for t in escalate([closed], LADDER, now) for n in t.notifications)
        assert closed.alert_id not in {n.alert_id for n in notes}


@settings(max_examples=200, deadline=None)
@given(st.lists(priorities, min_size=1, max_size=20))
def test_priority_of_an_open_alert_is_the_worst_ever_proposed(proposed: list[Priority]) -> None:
    alert = None
    for minute, priority in enumerate(proposed):
        now = T0 + timedelta(minutes=minute)
        alert = propose(alert, AlertRequest("p1", "bts", priority, now), now).alert
    assert alert is not None
    assert alert.priority == max(proposed)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.floats(min_value=70, max_value=100)), min_size=1, max_size=80),
    st.floats(min_value=0, max_value=30),
    st.floats(min_value=0, max_value=3),
)
def test_continuous_unscorable_readings_never_clear_an_alarm(
    values: list[float | None], persistence: float, hysteresis: float
) -> None:
    settings_ = ContinuousSettings(persistence_s=persistence, hysteresis=hysteresis)
    state = ContinuousState()
    for second, value in enumerate(values):
        before = state.confirmed
        state, decision = advance(
            state,
            at=T0 + timedelta(seconds=second),
            spo2=value,
            scorable=value is not None,
            classify=lambda v: Priority.HIGH if v < 93 else (Priority.MEDIUM if v < 95 else None),
            limit=93,
            settings=settings_,
        )
        if value is None:
            assert decision.change is Change.HELD
            assert state.confirmed == before
        assert decision.confirmed == state.confirmed


@settings(max_examples=200, deadline=None)
@given(
    spo2=st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
    pulse=st.one_of(st.none(), st.floats(min_value=0, max_value=300)),
    on_oxygen=st.booleans(),
    scale=st.sampled_from([1, 2]),
)
def test_news2_total_is_the_sum_and_partial_when_anything_is_missing(
    spo2: float | None, pulse: float | None, on_oxygen: bool, scale: int
) -> None:
    score = news2.score(spo2=spo2, pulse=pulse, on_oxygen=on_oxygen, scale=scale, at=T0)
    assert score.total == sum(score.subscores.values())
    assert score.partial  # an oximeter alone never completes NEWS2 (§2.3)
    assert set(score.missing) | set(score.subscores) == {p.value for p in news2.Parameter}
    assert 0 <= score.total <= news2.MAX_TOTAL
    if score.single_parameter_3 and score.total < news2.URGENT_TOTAL:
        assert score.response is news2.Response.LOW_MEDIUM
