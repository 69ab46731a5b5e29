"""Potential Hy's law (FDA DILI guidance, 2009): ALT or AST >= 3xULN and total bilirubin
> 2xULN, collected within 7 calendar days of each other (inclusive), possibly in different
requests. ALP >= 2xULN makes the case cholestatic (high, labelled); unknown ALP is said."""

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from .factories import SUBJECT_ID, alp, alt, ast, bili, only, policy, signals, subject


def hys_law(new, history=(), **kw):
    return only("hys_law", signals(new, history, **kw))


def test_pair_arriving_three_days_apart_in_two_requests_raises_one_critical_alert():
    first_request = [alt("3.5", day=0)]
    assert hys_law(first_request) == []

    raised = hys_law([bili("2.4", day=3)], history=first_request)

    assert len(raised) == 1
    alert = raised[0]
    assert alert.severity == "critical"
    assert alert.labels == ["alp_unknown"]
    assert SUBJECT_ID in alert.summary
    assert "3 days apart" in alert.summary
    assert "ALP not measured" in alert.summary
    assert [(e["analyte"], e["x_uln"], e["role"]) for e in alert.evidence] == [
        ("ALT", "3.5", "aminotransferase"),
        ("BILI", "2.4", "bilirubin"),
    ]


def test_alp_below_twice_uln_is_a_classic_case_without_labels():
    raised = hys_law([bili("2.4", day=3)], history=[alt("3.5", day=0), alp("1.2", day=0)])

    assert [(a.severity, a.labels) for a in raised] == [("critical", [])]
    assert "no cholestatic pattern" in raised[0].summary
    assert [e["analyte"] for e in raised[0].evidence] == ["ALT", "BILI", "ALP"]


def test_alp_two_and_a_half_times_uln_makes_it_cholestatic_and_high():
    raised = hys_law([bili("2.4", day=3)], history=[alt("3.5", day=0), alp("2.5", day=0)])

    assert [(a.severity, a.labels) for a in raised] == [("high", ["cholestatic"])]
    assert "cholestatic pattern" in raised[0].summary


def test_alp_exactly_twice_uln_is_cholestatic():
    raised = hys_law([bili("2.4"), alt("3.5"), alp("2.0")])

    assert raised[0].labels == ["cholestatic"]


def test_alp_closest_to_the_aminotransferase_rise_decides_the_pattern():
    history = [alt("4.0", day=10), alp("2.6", day=4), alp("1.1", day=10)]

    raised = hys_law([bili("2.5", day=12)], history=history)

    assert [(a.severity, a.labels) for a in raised] == [("critical", [])]


def test_alp_outside_the_pairing_window_of_the_aminotransferase_is_unknown():
    raised = hys_law([bili("2.5", day=10)], history=[alt("4.0", day=10), alp("1.0", day=2)])

    assert raised[0].labels == ["alp_unknown"]


def test_pair_ten_days_apart_raises_none():
    assert hys_law([bili("2.4", day=10)], history=[alt("3.5", day=0)]) == []


def test_pair_exactly_seven_days_apart_raises_one():
    raised = hys_law([bili("2.4", day=7)], history=[alt("3.5", day=0)])

    assert len(raised) == 1
    assert raised[0].severity == "critical"


def test_pair_eight_days_apart_raises_none():
    assert hys_law([bili("2.4", day=8)], history=[alt("3.5", day=0)]) == []


def test_seven_days_counts_calendar_days_whatever_the_clock_time():
    # 7 days 13 hours of elapsed time, but collected on calendar days 0 and 7.
    early = alt("3.5", collected_at=datetime(2025, 3, 3, 7, 0, tzinfo=UTC))
    late = bili("2.4", collected_at=datetime(2025, 3, 10, 20, 0, tzinfo=UTC))

    assert len(hys_law([late], history=[early])) == 1


def test_pairing_counts_days_in_the_subject_local_time_zone():
    # New York: ALT late on 1 March local (already 2 March in UTC); bilirubin on 9 March local.
    # Local calendar days are 8 apart (no pair); the UTC dates would be only 7 apart.
    late_evening = alt("3.5", collected_at=datetime.fromisoformat("2025-03-01T23:30:00-05:00"))
    next_week = bili("2.4", collected_at=datetime.fromisoformat("2025-03-09T08:00:00-04:00"))

    assert hys_law([next_week], [late_evening], ctx=subject(timezone="America/New_York")) == []
    assert len(hys_law([next_week], [late_evening], ctx=subject(timezone="UTC"))) == 1


def test_bilirubin_first_then_alt_pairs_the_same_way():
    assert len(hys_law([alt("3.5", day=5)], history=[bili("2.4", day=0)])) == 1


def test_ast_counts_like_alt():
    assert len(hys_law([ast("3.0"), bili("2.1")])) == 1


def test_alt_exactly_three_times_uln_counts():
    assert len(hys_law([alt("3.0"), bili("2.5")])) == 1


def test_alt_just_below_three_times_uln_does_not_count():
    assert hys_law([alt("2.99"), bili("2.5")]) == []


def test_bilirubin_exactly_twice_uln_does_not_count():
    assert hys_law([alt("5.0"), bili("2.0")]) == []


def test_bilirubin_just_above_twice_uln_counts():
    assert len(hys_law([alt("5.0"), bili("2.01")])) == 1


def test_pair_entirely_in_history_raises_nothing_again():
    history = [alt("3.5", day=0), bili("2.4", day=2)]

    assert hys_law([alp("1.0", day=5)], history=history) == []


def test_several_pairs_make_one_signal_led_by_the_classic_case():
    history = [alt("3.5", day=0), alp("2.5", day=0), ast("6.0", day=9), alp("1.0", day=9)]

    raised = hys_law([bili("2.4", day=6)], history=history)

    assert len(raised) == 1
    assert (raised[0].severity, raised[0].labels) == ("critical", [])
    assert {e["analyte"] for e in raised[0].evidence} == {"ALT", "AST", "BILI", "ALP"}


def test_site_can_shorten_the_pairing_window():
    site = policy({"rules": {"hys_law": {"pairing_days": 3}}})

    assert hys_law([bili("2.4", day=4)], [alt("3.5", day=0)], site_policy=site) == []
    assert len(hys_law([bili("2.4", day=3)], [alt("3.5", day=0)], site_policy=site)) == 1


def test_site_can_switch_hys_law_off():
    site = policy({"rules": {"hys_law": {"enabled": False}}})

    assert hys_law([alt("3.5"), bili("2.4")], site_policy=site) == []


x_uln = st.decimals(min_value=Decimal("0.5"), max_value=Decimal("25"), places=2)


@given(alt_x=x_uln, bili_x=x_uln)
def test_alert_iff_aminotransferase_at_least_three_and_bilirubin_above_two(alt_x, bili_x):
    raised = hys_law([alt(str(alt_x)), bili(str(bili_x))])

    assert bool(raised) == (alt_x >= 3 and bili_x > 2)


@given(
    gap=st.integers(min_value=0, max_value=30),
    bilirubin_first=st.booleans(),
    new_is_later=st.booleans(),
)
def test_pair_alerts_iff_within_seven_days_in_either_order_and_either_request(
    gap, bilirubin_first, new_is_later
):
    first_day, second_day = 0, gap
    amino = alt("3.5", day=second_day if bilirubin_first else first_day)
    bilirubin = bili("2.4", day=first_day if bilirubin_first else second_day)
    earlier, later = sorted([amino, bilirubin], key=lambda o: o.collected_at)
    new, old = (later, earlier) if new_is_later else (earlier, later)

    assert bool(hys_law([new], history=[old])) == (gap <= 7)
