"""eDISH (evaluation of Drug-Induced Serious Hepatotoxicity) points, one per subject.

eDISH plots each subject's peak aminotransferase (x, xULN, log scale) against peak total
bilirubin (y, xULN, log scale) with reference lines at 3xULN and 2xULN (FDA DILI guidance,
2009; Watkins et al., Drug Saf 2011;34:243). Peaks are taken over the whole period given, **not**
paired by collection time, so a subject may sit in the upper-right quadrant without a Hy's
law alert (which needs the two results within the pairing window, see ``rules.py``).

Quadrants, named as on FDA eDISH plots (thresholds from the alert policy's Hy's law rule, so
the plot and the alert agree on the boundaries: aminotransferase ≥ 3xULN, bilirubin > 2xULN):

- upper right: "Potential Hy's Law";
- lower right: "Temple's Corollary" (aminotransferase raised, bilirubin not);
- upper left: "Hyperbilirubinemia" (bilirubin raised alone: Gilbert's syndrome or cholestasis);
- lower left: "Normal Range".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from .policy import AlertPolicy, default_policy
from .rules import AMINOTRANSFERASES, BILIRUBIN, LabObservation


class EdishQuadrant(StrEnum):
    POTENTIAL_HYS_LAW = "potential_hys_law"
    TEMPLES_COROLLARY = "temples_corollary"
    HYPERBILIRUBINEMIA = "hyperbilirubinemia"
    NORMAL_RANGE = "normal_range"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: dict[EdishQuadrant, str] = {
    EdishQuadrant.POTENTIAL_HYS_LAW: "Potential Hy's Law",
    EdishQuadrant.TEMPLES_COROLLARY: "Temple's Corollary",
    EdishQuadrant.HYPERBILIRUBINEMIA: "Hyperbilirubinemia (Gilbert's syndrome or cholestasis)",
    EdishQuadrant.NORMAL_RANGE: "Normal Range",
}


@dataclass(frozen=True)
class EdishPoint:
    """A subject's eDISH point. A peak is None when no result with a xULN value was given;
    the quadrant is None unless both an aminotransferase and a bilirubin peak exist."""

    subject_id: str
    peak_alt_x_uln: Decimal | None
    peak_ast_x_uln: Decimal | None
    peak_bili_x_uln: Decimal | None
    quadrant: EdishQuadrant | None

    @property
    def peak_aminotransferase_x_uln(self) -> Decimal | None:
        """The x coordinate: the higher of peak ALT and peak AST ("ALT or AST")."""
        peaks = [p for p in (self.peak_alt_x_uln, self.peak_ast_x_uln) if p is not None]
        return max(peaks) if peaks else None


def _peak(observations: Iterable[LabObservation], analyte: str) -> Decimal | None:
    values = [o.x_uln for o in observations if o.analyte == analyte and o.x_uln is not None]
    return max(values) if values else None


def edish_quadrant(
    aminotransferase_x_uln: Decimal,
    bili_x_uln: Decimal,
    policy: AlertPolicy | None = None,
) -> EdishQuadrant:
    rule = (policy or default_policy()).rules.hys_law
    high_amino = aminotransferase_x_uln >= rule.aminotransferase_x_uln_at_least
    high_bili = bili_x_uln > rule.bilirubin_x_uln_above
    if high_amino and high_bili:
        return EdishQuadrant.POTENTIAL_HYS_LAW
    if high_amino:
        return EdishQuadrant.TEMPLES_COROLLARY
    if high_bili:
        return EdishQuadrant.HYPERBILIRUBINEMIA
    return EdishQuadrant.NORMAL_RANGE


def edish_point(
    subject_id: str,
    observations: Iterable[LabObservation],
    policy: AlertPolicy | None = None,
) -> EdishPoint:
    """The subject's peaks and quadrant from their lab observations (other analytes ignored)."""
    labs = [o for o in observations if o.analyte in (*AMINOTRANSFERASES, BILIRUBIN)]
    alt, ast, bili = _peak(labs, "ALT"), _peak(labs, "AST"), _peak(labs, BILIRUBIN)
    return edish_point_from_peaks(subject_id, alt, ast, bili, policy)


def edish_point_from_peaks(
    subject_id: str,
    alt: Decimal | None,
    ast: Decimal | None,
    bili: Decimal | None,
    policy: AlertPolicy | None = None,
) -> EdishPoint:
    """The subject's point from peaks already taken (e.g. by the database's MAX)."""
    point = EdishPoint(subject_id, alt, ast, bili, None)
    amino = point.peak_aminotransferase_x_uln
    if amino is None or bili is None:
        return point
    return EdishPoint(subject_id, alt, ast, bili, edish_quadrant(amino, bili, policy))
