"""The trial's toxicity outcome measures: number of participants with hepatic and with systemic
toxicities by NCI CTCAE v4 term and worst grade (NCT04339036 secondary outcomes, DOMAIN §1).

Each participant counts once per term, at their worst effective grade (the clinician's grade where
confirmed, else the recorded one), from C1D1 on. Patient-reported grades are included and labelled:
every count says how many of its participants rest only on unreviewed patient-reported grades.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import NotFound
from services.common.sites import site_exists
from services.safety_api.models import tables
from services.safety_api.reports import repository

Category = Literal["hepatic", "systemic"]
GRADES = (1, 2, 3, 4, 5)
SEVERE = 3

GRADES_COUNTED = (
    "Each participant is counted once per term at their worst grade from C1D1 on (cycle >= 1; "
    "occurrences before C1D1 are baseline and not counted). The grade of an occurrence is the "
    "clinician's grade where a clinician confirmed or overrode it, else the grade as recorded "
    "from the lab value or symptom report. Patient-reported grades from the diary are included "
    "while unreviewed; *_patient_reported_only says how many participants of each count rest "
    "only on such grades. Hepatic terms: liver tests (ALT, AST, ALP, GGT, bilirubin, albumin, "
    "INR), ascites and hepatic failure; systemic: every other graded term."
)


@dataclass(frozen=True, slots=True)
class Occurrence:
    subject_id: str
    meddra_code: str
    term: str
    grade: int  # as recorded
    clinician_grade: int | None
    patient_reported: bool

    @property
    def effective_grade(self) -> int:
        return self.clinician_grade if self.clinician_grade is not None else self.grade

    @property
    def unreviewed_patient_report(self) -> bool:
        return self.patient_reported and self.clinician_grade is None


@dataclass
class _Worst:
    """A participant's worst grade, and the worst grade not resting on an unreviewed diary."""

    grade: int = 0
    corroborated: int = 0

    def add(self, occurrence: Occurrence) -> None:
        self.grade = max(self.grade, occurrence.effective_grade)
        if not occurrence.unreviewed_patient_report:
            self.corroborated = max(self.corroborated, occurrence.effective_grade)

    def patient_reported_only(self, at_least: int) -> bool:
        return self.grade >= at_least > self.corroborated


# A worst grade and how many participants have it (1 each when tabulating occurrences).
_Weighted = list[tuple[_Worst, int]]


def _counts(worst: _Weighted, at_least: int) -> tuple[int, int]:
    reached = [(w, n) for w, n in worst if w.grade >= at_least]
    return sum(n for _, n in reached), sum(
        n for w, n in reached if w.patient_reported_only(at_least)
    )


@dataclass(frozen=True, slots=True)
class WorstCount:
    """How many participants have one (worst, corroborated) pair of grades, as the database
    counts them: per term (``meddra_code`` set), or over all terms (``meddra_code`` None).
    ``worst`` is a participant's worst effective grade, ``corroborated`` the worst not resting
    on an unreviewed patient-reported grade (0 when none)."""

    meddra_code: str | None
    term: str | None
    worst: int
    corroborated: int
    participants: int


def tabulate(occurrences: Iterable[Occurrence]) -> dict[str, Any]:
    """Terms and totals of a toxicity report from graded occurrences (pure)."""
    by_term: dict[str, dict[str, _Worst]] = defaultdict(lambda: defaultdict(_Worst))
    overall: dict[str, _Worst] = defaultdict(_Worst)
    names: dict[str, str] = {}
    for occurrence in occurrences:
        if occurrence.effective_grade < 1:
            continue
        names[occurrence.meddra_code] = occurrence.term
        by_term[occurrence.meddra_code][occurrence.subject_id].add(occurrence)
        overall[occurrence.subject_id].add(occurrence)
    return _table(
        {code: [(w, 1) for w in participants.values()] for code, participants in by_term.items()},
        [(w, 1) for w in overall.values()],
        names,
    )


def tabulate_counts(rows: Iterable[WorstCount]) -> dict[str, Any]:
    """The same table as :func:`tabulate`, from participants counted by worst grades (the
    database reduces occurrences to worst grades and counts them; nothing else is done there)."""
    by_term: dict[str, _Weighted] = defaultdict(list)
    overall: _Weighted = []
    names: dict[str, str] = {}
    for row in rows:
        if row.worst < 1:
            continue
        weighted = (_Worst(row.worst, row.corroborated), row.participants)
        if row.meddra_code is None:
            overall.append(weighted)
        else:
            names[row.meddra_code] = row.term or ""
            by_term[row.meddra_code].append(weighted)
    return _table(by_term, overall, names)


def _table(
    by_term: dict[str, _Weighted], overall: _Weighted, names: dict[str, str]
) -> dict[str, Any]:
    terms = []
    for code, worst in by_term.items():
        any_grade, any_pro = _counts(worst, 1)
        severe, severe_pro = _counts(worst, SEVERE)
        terms.append(
            {
                "term": names[code],
                "meddra_code": code,
                "any_grade": any_grade,
                "any_grade_patient_reported_only": any_pro,
                "grade_3_or_higher": severe,
                "grade_3_or_higher_patient_reported_only": severe_pro,
                "by_worst_grade": [
                    {
                        "grade": grade,
                        "participants": sum(n for w, n in worst if w.grade == grade),
                        "patient_reported_only": sum(
                            n
                            for w, n in worst
                            if w.grade == grade and w.patient_reported_only(grade)
                        ),
                    }
                    for grade in GRADES
                ],
            }
        )
    any_grade, any_pro = _counts(overall, 1)
    severe, severe_pro = _counts(overall, SEVERE)
    return {
        "terms": sorted(terms, key=lambda t: t["term"]),
        "totals": {
            "any_grade": any_grade,
            "any_grade_patient_reported_only": any_pro,
            "grade_3_or_higher": severe,
            "grade_3_or_higher_patient_reported_only": severe_pro,
        },
    }


async def toxicity_report(
    session: AsyncSession, principal: Principal, category: Category, site_id: str | None
) -> dict[str, Any]:
    if site_id is not None and not (
        principal.can_see_site(site_id) and await site_exists(session, tables, site_id)
    ):
        raise NotFound(f"Site {site_id}")
    if site_id is None and not principal.all_sites:
        site_id = principal.site
    rows = await repository.participants_by_worst_grade(session, principal, category, site_id)
    table = tabulate_counts(
        WorstCount(
            meddra_code=row.meddra_code,
            term=row.term,
            worst=row.worst,
            corroborated=row.corroborated,
            participants=row.participants,
        )
        for row in rows
    )
    return {
        "category": category,
        "site_id": site_id,
        "generated_at": utcnow(),
        "participants": await repository.count_subjects(session, principal, site_id),
        "grades_counted": GRADES_COUNTED,
        **table,
    }


CSV_COLUMNS = (
    "category",
    "site_id",
    "term",
    "meddra_code",
    "worst_grade",
    "participants",
    "patient_reported_only",
)


def as_csv(report: dict[str, Any]) -> str:
    """One row per term and worst grade (1-5), then the term's 'any' and '>=3' rows; the
    category's totals last, as term 'All terms'."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    common = (report["category"], report["site_id"] or "")
    for term in report["terms"]:
        named = (*common, term["term"], term["meddra_code"])
        for count in term["by_worst_grade"]:
            writer.writerow(
                (*named, count["grade"], count["participants"], count["patient_reported_only"])
            )
        writer.writerow((*named, "any", term["any_grade"], term["any_grade_patient_reported_only"]))
        writer.writerow(
            (
                *named,
                ">=3",
                term["grade_3_or_higher"],
                term["grade_3_or_higher_patient_reported_only"],
            )
        )
    totals = report["totals"]
    everything = (*common, "All terms", "")
    writer.writerow(
        (*everything, "any", totals["any_grade"], totals["any_grade_patient_reported_only"])
    )
    writer.writerow(
        (
            *everything,
            ">=3",
            totals["grade_3_or_higher"],
            totals["grade_3_or_higher_patient_reported_only"],
        )
    )
    return out.getvalue()
