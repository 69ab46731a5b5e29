"""One open alert per subject and rule: new evidence is appended, a worse severity updates it
and notifies again; a missed acknowledgement deadline (critical 1 h, high 24 h) escalates once
per severity."""

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.safety_api.alerts.rules import AlertSignal, escalation_due, merge_signal

from .factories import lab, on_day, only, policy, signals, stored

CREATED = on_day(0, hour=10)


def hepatic_grade_signal(*labs):
    (signal,) = only("hepatic_grade", signals(list(labs)))
    return signal


def test_first_signal_creates_an_open_alert_and_notifies():
    decision = merge_signal(None, hepatic_grade_signal(lab("ALT", grade=3)))

    assert decision.action == "create"
    assert (decision.severity, decision.status) == ("high", "open")
    assert decision.event == "alert.created"
    assert decision.notify is True
    assert len(decision.evidence_to_append) == 1


def test_second_grade_3_alt_updates_the_open_alert_not_a_new_one():
    first = hepatic_grade_signal(lab("ALT", grade=3, day=0))
    open_alert = stored(first, created_at=CREATED)

    second = hepatic_grade_signal(lab("ALT", grade=3, day=2))
    decision = merge_signal(open_alert, second)

    assert decision.action == "append_evidence"
    assert decision.severity == "high"
    assert decision.event == "alert.updated"
    assert decision.notify is False
    assert [e["observation_id"] for e in decision.evidence_to_append] == [
        second.evidence[0]["observation_id"]
    ]


def test_grade_4_escalates_the_open_alert_to_critical_and_notifies_again():
    open_alert = stored(hepatic_grade_signal(lab("ALT", grade=3, day=0)), created_at=CREATED)

    decision = merge_signal(open_alert, hepatic_grade_signal(lab("ALT", grade=4, day=3)))

    assert decision.action == "escalate_severity"
    assert decision.severity == "critical"
    assert decision.event == "alert.updated"
    assert decision.notify is True
    assert len(decision.evidence_to_append) == 1


def test_worse_severity_reopens_an_acknowledged_alert():
    acknowledged = stored(
        hepatic_grade_signal(lab("ALT", grade=3)), created_at=CREATED, status="acknowledged"
    )

    decision = merge_signal(acknowledged, hepatic_grade_signal(lab("ALT", grade=4, day=1)))

    assert decision.status == "open"


def test_new_evidence_keeps_an_acknowledged_alert_acknowledged():
    acknowledged = stored(
        hepatic_grade_signal(lab("ALT", grade=3)), created_at=CREATED, status="acknowledged"
    )

    decision = merge_signal(acknowledged, hepatic_grade_signal(lab("ALT", grade=3, day=1)))

    assert (decision.action, decision.status) == ("append_evidence", "acknowledged")


def test_milder_signal_adds_evidence_but_never_lowers_severity():
    critical = stored(hepatic_grade_signal(lab("ALT", grade=4)), created_at=CREATED)

    decision = merge_signal(critical, hepatic_grade_signal(lab("ALT", grade=3, day=1)))

    assert (decision.action, decision.severity) == ("append_evidence", "critical")


def test_the_same_signal_again_changes_nothing():
    signal = hepatic_grade_signal(lab("ALT", grade=3))

    decision = merge_signal(stored(signal, created_at=CREATED), signal)

    assert decision.action == "no_change"
    assert decision.event is None
    assert decision.notify is False


def test_a_new_label_alone_is_an_update():
    signal = AlertSignal("hys_law", "critical", "s", [{"observation_id": "a"}], [])
    relabelled = replace(signal, labels=["alp_unknown"])

    decision = merge_signal(stored(signal, created_at=CREATED), relabelled)

    assert (decision.action, decision.labels_to_add) == ("append_evidence", ["alp_unknown"])


def test_signal_of_another_rule_is_refused():
    open_alert = stored(hepatic_grade_signal(lab("ALT", grade=3)), created_at=CREATED)

    with pytest.raises(ValueError, match="cannot merge"):
        merge_signal(open_alert, AlertSignal("worsening", "high", "s", []))


# Acknowledgement deadlines


def open_alert(severity="critical", **kw):
    signal = AlertSignal("hys_law", severity, "s", [{"observation_id": "a"}])
    return stored(signal, created_at=CREATED, **kw)


def test_critical_alert_escalates_after_one_hour_unacknowledged():
    site = policy()

    assert escalation_due(open_alert("critical"), site, CREATED + timedelta(minutes=59)) is False
    assert escalation_due(open_alert("critical"), site, CREATED + timedelta(hours=1)) is False
    assert escalation_due(open_alert("critical"), site, CREATED + timedelta(hours=1, seconds=1))


def test_high_alert_escalates_after_24_hours():
    site = policy()

    assert escalation_due(open_alert("high"), site, CREATED + timedelta(hours=23)) is False
    assert escalation_due(open_alert("high"), site, CREATED + timedelta(hours=24, minutes=1))


def test_acknowledged_alert_does_not_escalate():
    alert = open_alert("critical", status="acknowledged")

    assert escalation_due(alert, policy(), CREATED + timedelta(days=3)) is False


def test_alert_already_escalated_at_its_severity_does_not_escalate_again():
    alert = open_alert("critical", escalated_severity="critical")

    assert escalation_due(alert, policy(), CREATED + timedelta(days=3)) is False


def test_deadline_restarts_when_severity_rises_and_escalates_again_at_the_new_severity():
    raised_at = CREATED + timedelta(hours=30)
    alert = open_alert("critical", severity_changed_at=raised_at, escalated_severity="high")

    assert escalation_due(alert, policy(), raised_at + timedelta(minutes=30)) is False
    assert escalation_due(alert, policy(), raised_at + timedelta(minutes=61)) is True


def test_site_can_shorten_the_high_deadline():
    site = policy({"ack_deadlines": {"high": "PT4H"}})

    assert escalation_due(open_alert("high"), site, CREATED + timedelta(hours=4, minutes=1))


def test_now_without_a_time_zone_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        escalation_due(open_alert(), policy(), CREATED.replace(tzinfo=None))


@given(grades=st.lists(st.sampled_from([3, 4]), min_size=1, max_size=6))
def test_severity_never_falls_and_each_signal_is_merged_once(grades):
    state = None
    for day, grade in enumerate(grades):
        signal = hepatic_grade_signal(lab("ALT", grade=grade, day=day))
        decision = merge_signal(state, signal)
        if state is not None:
            assert decision.action != "create"
            assert not (state.severity == "critical" and decision.severity == "high")
        state = stored(
            signal,
            created_at=CREATED,
            severity=decision.severity,
            evidence=(*(state.evidence if state else ()), *decision.evidence_to_append),
        )
        assert merge_signal(state, signal).action == "no_change"
    assert state is not None
    assert state.severity == ("critical" if 4 in grades else "high")
    assert len(state.evidence) == len(grades)
