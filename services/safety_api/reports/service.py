"""The trial's toxicity outcome measures: number of participants with hepatic and with systemic
toxicities by NCI CTCAE v4 term and worst grade (NCT04339036 secondary outcomes, DOMAIN §1).

Each participant counts once per term, at their worst effective grade (the clinician's grade where
confirmed, else the recorded one), from C1D1 on. Patient-reported grades are included and labelled:
every count says how many of its participants rest only on unreviewed patient-reported grades.

A data cut-off date counts only what had happened by the end of that day: occurrences before the
start of the next day (local midnight in the site's time zone when one site is reported, midnight
UTC when every site is; occurrence times are stored in UTC), and participants whose treatment
started on or before it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import FieldProblem, NotFound, field_error
from services.common.sites import site_exists
from services.safety_api.models import tables
from services.safety_api.reports import repository
from services.safety_api.subjects.repository import site_timezone

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


ALL_SITES_TIME_ZONE = "UTC"
NO_CUTOFF = "No data cut-off: every occurrence and participant recorded so far is counted."


@dataclass(frozen=True, slots=True)
class DataCutoff:
    """A data cut-off date read in one time zone: what happened on or before ``date`` there."""

    date: dt.date
    time_zone: str  # IANA name: the site's when one site is reported, else UTC

    @property
    def occurred_before(self) -> dt.datetime:
        """The first instant (aware, UTC) after the cut-off: midnight starting the next local
        day. Where that midnight does not exist (a DST jump) it is the instant clocks jump;
        where it occurs twice, the first."""
        next_day = self.date + dt.timedelta(days=1)
        midnight = dt.datetime.combine(next_day, dt.time(0), tzinfo=ZoneInfo(self.time_zone))
        return midnight.astimezone(dt.UTC)

    def rule(self) -> str:
        whose = (
            "every site is reported"
            if self.time_zone == ALL_SITES_TIME_ZONE
            else "one site is reported: the site's time zone"
        )
        next_day = (self.date + dt.timedelta(days=1)).isoformat()
        return (
            f"Data cut-off {self.date.isoformat()}, read in {self.time_zone} ({whose}). "
            f"Occurrences are counted if they occurred before {next_day} 00:00 {self.time_zone}, "
            f"i.e. before {self.occurred_before.isoformat()} (occurrence times are stored in "
            f"UTC); participants are counted if their treatment (C1D1) started on or before "
            f"{self.date.isoformat()}."
        )


def data_cutoff(date: dt.date, time_zone: str, now: dt.datetime) -> DataCutoff:
    """The cut-off as reported, or 422 naming ``query.data_cutoff`` when it is later than
    today in the time zone it is read in (data not yet recorded cannot be cut off)."""
    today = now.astimezone(ZoneInfo(time_zone)).date()
    if date > today:
        raise FieldProblem(
            [
                field_error(
                    "query.data_cutoff",
                    f"{date.isoformat()} is in the future (today is {today.isoformat()} in "
                    f"{time_zone}, the time zone the cut-off is read in).",
                    f"Send a date on or before {today.isoformat()}, or leave data_cutoff out "
                    "to count everything recorded so far.",
                )
            ]
        )
    return DataCutoff(date, time_zone)


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
    session: AsyncSession,
    principal: Principal,
    category: Category,
    site_id: str | None,
    cutoff_date: dt.date | None = None,
    *,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The report for one site (``site_id``; site staff always their own) or every site in
    scope, optionally as of a data cut-off date (see the module docstring for the rule)."""
    now = now or utcnow()
    if site_id is not None and not (
        principal.can_see_site(site_id) and await site_exists(session, tables, site_id)
    ):
        raise NotFound(f"Site {site_id}")
    if site_id is None and not principal.all_sites:
        site_id = principal.site
    cutoff = None
    if cutoff_date is not None:
        zone = ALL_SITES_TIME_ZONE if site_id is None else await site_timezone(session, site_id)
        cutoff = data_cutoff(cutoff_date, zone, now)
    occurred_before = cutoff.occurred_before if cutoff else None
    rows = await repository.participants_by_worst_grade(
        session, principal, category, site_id, occurred_before
    )
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
        "generated_at": now,
        "data_cutoff": cutoff.date if cutoff else None,
        "data_cutoff_time_zone": cutoff.time_zone if cutoff else None,
        "data_cutoff_rule": cutoff.rule() if cutoff else NO_CUTOFF,
        "participants": await repository.count_subjects(
            session, principal, site_id, cutoff.date if cutoff else None
        ),
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
    "data_cutoff",
    "data_cutoff_time_zone",
)


def as_csv(report: dict[str, Any]) -> str:
    """One row per term and worst grade (1-5), then the term's 'any' and '>=3' rows; the
    category's totals last, as term 'All terms'. Every row ends with the data cut-off date and
    the time zone it was read in (both empty when there was no cut-off)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    common = (report["category"], report["site_id"] or "")
    cutoff = report["data_cutoff"]
    as_of = (cutoff.isoformat() if cutoff else "", report["data_cutoff_time_zone"] or "")

    def row(named: tuple[str, ...], grade: object, participants: int, reported: int) -> None:
        writer.writerow((*named, grade, participants, reported, *as_of))

    for term in report["terms"]:
        named = (*common, term["term"], term["meddra_code"])
        for count in term["by_worst_grade"]:
            row(named, count["grade"], count["participants"], count["patient_reported_only"])
        row(named, "any", term["any_grade"], term["any_grade_patient_reported_only"])
        row(
            named,
            ">=3",
            term["grade_3_or_higher"],
            term["grade_3_or_higher_patient_reported_only"],
        )
    totals = report["totals"]
    everything = (*common, "All terms", "")
    row(everything, "any", totals["any_grade"], totals["any_grade_patient_reported_only"])
    row(
        everything,
        ">=3",
        totals["grade_3_or_higher"],
        totals["grade_3_or_higher_patient_reported_only"],
    )
    return out.getvalue()
