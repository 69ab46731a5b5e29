"""eDISH: per subject, peak ALT and AST xULN against peak bilirubin xULN; quadrants per the
FDA eDISH convention, with the Hy's law boundaries (aminotransferase >= 3, bilirubin > 2)."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.safety_api.alerts.edish import EdishQuadrant, edish_point

from .factories import SUBJECT_ID, alp, alt, ast, bili, policy


def test_peaks_are_taken_over_all_results_not_paired_in_time():
    point = edish_point(
        SUBJECT_ID,
        [
            alt("1.5", day=0),
            alt("4.2", day=20),
            ast("2.0", day=3),
            bili("2.6", day=90),
            alp("5", day=1),
        ],
    )

    assert point.peak_alt_x_uln == Decimal("4.2")
    assert point.peak_ast_x_uln == Decimal("2.0")
    assert point.peak_bili_x_uln == Decimal("2.6")
    assert point.quadrant is EdishQuadrant.POTENTIAL_HYS_LAW
    assert point.quadrant.label == "Potential Hy's Law"


def test_aminotransferase_raised_with_bilirubin_at_twice_uln_is_temples_corollary():
    point = edish_point(SUBJECT_ID, [alt("3.0"), bili("2.0")])

    assert point.quadrant is EdishQuadrant.TEMPLES_COROLLARY


def test_bilirubin_raised_alone_is_hyperbilirubinemia():
    point = edish_point(SUBJECT_ID, [alt("2.9"), bili("2.1")])

    assert point.quadrant is EdishQuadrant.HYPERBILIRUBINEMIA
    assert "Gilbert's" in point.quadrant.label


def test_both_below_the_lines_is_normal_range():
    assert edish_point(SUBJECT_ID, [alt("1"), bili("1")]).quadrant is EdishQuadrant.NORMAL_RANGE


def test_ast_alone_places_the_point_like_alt():
    point = edish_point(SUBJECT_ID, [ast("3.1"), bili("2.1")])

    assert point.peak_alt_x_uln is None
    assert point.peak_aminotransferase_x_uln == Decimal("3.1")
    assert point.quadrant is EdishQuadrant.POTENTIAL_HYS_LAW


def test_no_bilirubin_means_no_quadrant():
    point = edish_point(SUBJECT_ID, [alt("5")])

    assert point.peak_bili_x_uln is None
    assert point.quadrant is None


def test_quadrant_lines_follow_the_site_policy():
    site = policy({"rules": {"hys_law": {"aminotransferase_x_uln_at_least": "5"}}})

    assert edish_point(SUBJECT_ID, [alt("4"), bili("3")], site).quadrant is (
        EdishQuadrant.HYPERBILIRUBINEMIA
    )


x_uln = st.decimals(min_value=Decimal("0.1"), max_value=Decimal("40"), places=1)


@given(alts=st.lists(x_uln, min_size=1, max_size=5), bilis=st.lists(x_uln, min_size=1, max_size=5))
def test_point_is_the_peak_and_quadrant_follows_the_lines(alts, bilis):
    point = edish_point(
        SUBJECT_ID, [alt(str(a), day=i) for i, a in enumerate(alts)] + [bili(str(b)) for b in bilis]
    )

    assert point.peak_alt_x_uln == max(alts)
    assert point.peak_bili_x_uln == max(bilis)
    expected = {
        (True, True): EdishQuadrant.POTENTIAL_HYS_LAW,
        (True, False): EdishQuadrant.TEMPLES_COROLLARY,
        (False, True): EdishQuadrant.HYPERBILIRUBINEMIA,
        (False, False): EdishQuadrant.NORMAL_RANGE,
    }[(max(alts) >= 3, max(bilis) > 2)]
    assert point.quadrant is expected
