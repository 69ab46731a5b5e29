"""``evaluate``: only the new observations raise signals (history supplies partners), at most
one signal per rule, pure and order-independent."""

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.safety_api.alerts.rules import (
    RULE_CODES,
    LabObservation,
    Observation,
    SubjectContext,
)

from .factories import SUBJECT_ID, alt, anc, bili, lab, report, signals, subject


def test_history_alone_raises_nothing():
    history: list[Observation] = [
        alt("8", grade=3),
        bili("3.5", grade=3),
        report(yellow_eyes_or_skin=True),
    ]

    assert signals([], history, ctx=subject(tare_days=[0])) == []


def test_observation_sent_again_in_history_is_counted_once():
    result = alt("3.5", day=0)

    raised = signals([result, bili("2.5", day=1)], history=[result])

    assert [e["observation_id"] for e in raised[0].evidence].count(result.observation_id) == 1


def test_one_report_can_raise_several_rules_in_rule_order():
    ctx = subject(tare_days=[0], baseline_grades={"BILI": 0})
    raised = signals(
        [
            alt("6", grade=3, day=30),
            bili("3.2", grade=3, day=30),
            report(day=30, yellow_eyes_or_skin=True),
        ],
        ctx=ctx,
    )

    assert [s.rule for s in raised] == [
        "hepatic_grade",
        "hys_law",
        "reild_watch",
        "worsening",
        "hepatic_warning_signs",
    ]
    assert [s.severity for s in raised] == ["high", "critical", "critical", "high", "high"]


def test_summaries_name_the_study_subject_id_and_evidence_is_json_ready():
    raised = signals(
        [alt("6", grade=3), bili("3.2", grade=3), anc("500", grade=3), report(temperature_c="39")]
    )

    for signal in raised:
        assert signal.summary.startswith(f"Subject {SUBJECT_ID}")
        for item in signal.evidence:
            assert all(isinstance(v, (str, int, bool, type(None))) for v in item.values())


def test_lab_time_without_time_zone_is_refused():
    with pytest.raises(ValueError, match="collected_at must be timezone-aware"):
        LabObservation(observation_id="x", analyte="ALT", collected_at=datetime(2025, 3, 3, 9))


def test_unknown_time_zone_is_refused():
    with pytest.raises(ValueError, match="not an IANA time zone"):
        SubjectContext(subject_id=SUBJECT_ID, site_id="101", timezone="Mars/Olympus")


def test_each_rule_has_a_stable_code():
    assert RULE_CODES == (
        "hepatic_grade",
        "hys_law",
        "reild_watch",
        "worsening",
        "hepatic_warning_signs",
        "systemic_grade",
        "febrile_neutropenia",
    )


history_items = st.lists(
    st.one_of(
        st.builds(
            lambda d, x: alt(x, day=d), st.integers(-10, 10), st.sampled_from(["1", "3", "6"])
        ),
        st.builds(
            lambda d, x: bili(x, day=d), st.integers(-10, 10), st.sampled_from(["1", "2", "2.5"])
        ),
        st.builds(
            lambda d, x: lab("ALP", day=d, x_uln=x),
            st.integers(-10, 10),
            st.sampled_from(["1", "2.5"]),
        ),
        st.builds(lambda d: report(day=d, abdominal_swelling=True), st.integers(-10, 10)),
    ),
    max_size=8,
)


@given(history=history_items, data=st.data())
def test_result_does_not_depend_on_the_order_of_history(history, data):
    new = [alt("4", day=0, grade=2), bili("2.4", day=1, grade=2)]
    shuffled = data.draw(st.permutations(history))
    ctx = subject(tare_days=[-5])

    assert signals(new, history, ctx=ctx) == signals(new, shuffled, ctx=ctx)
    assert len({s.rule for s in signals(new, history, ctx=ctx)}) == len(
        signals(new, history, ctx=ctx)
    )
