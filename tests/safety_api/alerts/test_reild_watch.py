"""REILD watch (Sangro 2008; Braat 2017): within 120 days after any TARE date, bilirubin
> 2xULN or patient-reported abdominal swelling / yellow eyes or skin is high; both together
(within 7 days of each other) critical. Day 0 is the TARE date; day 120 is in, day 121 out."""

from hypothesis import given
from hypothesis import strategies as st

from .factories import bili, only, policy, report, signals, subject

TARE_ON_DAY_0 = subject(tare_days=[0])


def reild(new, history=(), ctx=TARE_ON_DAY_0, **kw):
    return only("reild_watch", signals(new, history, ctx=ctx, **kw))


def test_bilirubin_above_twice_uln_on_day_120_after_tare_is_high():
    raised = reild([bili("2.2", day=120)])

    assert [(a.severity, a.labels) for a in raised] == [("high", ["raised_bilirubin"])]
    assert raised[0].evidence[0]["day_after_tare"] == 120
    assert raised[0].evidence[0]["tare_date"] == "2025-03-03"
    assert "day 120 after TARE 2025-03-03" in raised[0].summary


def test_bilirubin_on_day_121_after_tare_is_outside_the_watch():
    assert reild([bili("2.2", day=121)]) == []


def test_bilirubin_on_the_tare_date_itself_is_day_0_and_watched():
    assert len(reild([bili("2.2", day=0)])) == 1


def test_bilirubin_before_tare_is_not_watched():
    assert reild([bili("2.2", day=-1)]) == []


def test_bilirubin_exactly_twice_uln_is_not_enough():
    assert reild([bili("2.0", day=30)]) == []


def test_reported_abdominal_swelling_on_day_120_is_high():
    raised = reild([report(day=120, abdominal_swelling=True)])

    assert [(a.severity, a.labels) for a in raised] == [("high", ["reported_jaundice_or_swelling"])]


def test_reported_yellow_eyes_on_day_121_is_outside_the_watch():
    assert reild([report(day=121, yellow_eyes_or_skin=True)]) == []


def test_confusion_alone_is_a_warning_sign_but_not_reild():
    assert reild([report(day=30, confusion=True)]) == []


def test_raised_bilirubin_and_reported_jaundice_together_are_critical():
    history = [report(day=40, yellow_eyes_or_skin=True)]

    raised = reild([bili("2.6", day=44)], history=history)

    assert len(raised) == 1
    assert raised[0].severity == "critical"
    assert raised[0].labels == ["raised_bilirubin", "reported_jaundice_or_swelling"]
    assert [e["role"] for e in raised[0].evidence] == ["partner", "trigger"]


def test_both_in_the_same_new_batch_are_critical():
    raised = reild([bili("2.6", day=44), report(day=44, abdominal_swelling=True)])

    assert raised[0].severity == "critical"


def test_bilirubin_and_symptoms_weeks_apart_are_not_together():
    history = [report(day=10, abdominal_swelling=True)]

    raised = reild([bili("2.6", day=44)], history=history)

    assert [a.severity for a in raised] == ["high"]


def test_a_later_tare_opens_its_own_window():
    two_lobes = subject(tare_days=[0, 56])

    raised = reild([bili("2.3", day=150)], ctx=two_lobes)

    assert raised[0].evidence[0]["tare_date"] == "2025-04-28"
    assert raised[0].evidence[0]["day_after_tare"] == 94


def test_no_tare_no_watch():
    assert reild([bili("2.6", day=10)], ctx=subject(tare_days=[])) == []


def test_window_is_per_site_configurable():
    site = policy({"rules": {"reild_watch": {"window_days": 90}}})

    assert reild([bili("2.6", day=91)], site_policy=site) == []


@given(day=st.integers(min_value=-30, max_value=200))
def test_watched_exactly_from_day_0_to_day_120(day):
    assert bool(reild([bili("2.5", day=day)])) == (0 <= day <= 120)
