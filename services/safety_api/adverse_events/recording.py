"""Turning graded results into adverse-event occurrences (the subject's AE record).

Every graded result is kept, grade 0 included, with where it came from; the worst grade per term
per cycle is derived when the record is read. Cycles are the trial's 28-day CapTem cycles counted
from C1D1 in the site's local calendar (DOMAIN §1); cycle 0 is anything before C1D1 (baseline).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.safety_api.ctcae import GradeResult
from services.safety_api.models import AdverseEvent, Subject

ADVERSE_EVENTS: Table = AdverseEvent.__table__  # type: ignore[attr-defined]
CYCLE_LENGTH_DAYS = 28
# The trial's hepatic-toxicity outcome measure: liver tests, ascites and hepatic failure.
HEPATIC_MEDDRA_CODES = frozenset(
    {
        "10001551",  # Alanine aminotransferase increased
        "10003481",  # Aspartate aminotransferase increased
        "10001675",  # Alkaline phosphatase increased
        "10056910",  # GGT increased
        "10005364",  # Blood bilirubin increased
        "10020943",  # Hypoalbuminemia
        "10022402",  # INR increased
        "10003445",  # Ascites
        "10019663",  # Hepatic failure
    }
)


def category_of(meddra_code: str) -> str:
    return "hepatic" if meddra_code in HEPATIC_MEDDRA_CODES else "systemic"


def cycle_of(
    treatment_start: dt.date, local_day: dt.date, cycle_starts: Sequence[dt.date] = ()
) -> int:
    """Cycle number of a local date: 0 before C1D1; with known (possibly delayed) cycle starts,
    the last start on or before the day; otherwise nominal 28-day cycles from C1D1."""
    if local_day < treatment_start:
        return 0
    starts = sorted(s for s in cycle_starts if s >= treatment_start)
    if starts:
        started = [i for i, start in enumerate(starts, start=1) if start <= local_day]
        cycle = started[-1] if started else 1
        if started and cycle < len(starts):
            return cycle  # the next cycle's (delayed) start is known and not reached yet
        last_start = starts[cycle - 1] if started else treatment_start
        # Past the last known start, cycles continue every 28 days.
        return cycle + (local_day - last_start).days // CYCLE_LENGTH_DAYS
    return (local_day - treatment_start).days // CYCLE_LENGTH_DAYS + 1


def local_date(moment: dt.datetime, timezone: str) -> dt.date:
    return moment.astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One graded result and where it came from (a lab result or a symptom report)."""

    result: GradeResult
    source_id: str


async def record_occurrences(
    session: AsyncSession,
    subject: Subject,
    occurrences: Sequence[Occurrence],
    *,
    occurred_at: dt.datetime,
    timezone: str,
    source_kind: str,
    patient_reported: bool,
) -> list[str]:
    """Insert one AE occurrence per graded result in the caller's transaction (one executemany:
    an ORM object per row would cost more than the INSERT itself); returns their ids."""
    if not occurrences:
        return []
    cycle_starts = [dt.date.fromisoformat(d) for d in subject.cycle_starts]
    cycle = cycle_of(subject.treatment_start, local_date(occurred_at, timezone), cycle_starts)
    ids = [str(uuid.uuid4()) for _ in occurrences]
    await session.execute(
        insert(ADVERSE_EVENTS),
        [
            {
                "id": event_id,
                "subject_id": subject.id,
                "site_id": subject.site_id,
                "term": o.result.term,
                "meddra_code": o.result.meddra_code,
                "category": category_of(o.result.meddra_code),
                "grade": o.result.grade,
                "occurred_at": occurred_at,
                "cycle": cycle,
                "source_kind": source_kind,
                "source_id": o.source_id,
                "patient_reported": patient_reported,
                "needs_clinical_assessment": o.result.needs_clinical_assessment,
            }
            for event_id, o in zip(ids, occurrences, strict=True)
        ],
    )
    return ids
