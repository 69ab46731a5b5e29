"""The questionnaire data export: one CSV row per completed response (current versions only).

Columns: subject_id, site, timepoint, completed_at (UTC, ISO 8601), mode, version, item_1 ...
item_51 (response codes; empty = not answered), then every scale score of the instrument
(empty = unscored by the half rule). Pure: rows in, text out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from services.pro_api.instruments.catalog import Instrument
from services.pro_api.models import Patient, QuestionnaireResponse

FIXED_COLUMNS = ("subject_id", "site", "timepoint", "completed_at", "mode", "version")


def score_codes(instrument: Instrument) -> list[str]:
    return [scale.code for scale in instrument.scales] + [
        summary.code for summary in instrument.summary_scores
    ]


def header(instrument: Instrument) -> list[str]:
    items = [f"item_{number}" for number in instrument.item_numbers]
    return [*FIXED_COLUMNS, *items, *score_codes(instrument)]


def questionnaire_csv(
    instrument: Instrument, rows: Iterable[tuple[QuestionnaireResponse, Patient]]
) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header(instrument))
    codes = score_codes(instrument)
    for response, patient in rows:
        answers = response.answers
        scores = response.scores or {}
        writer.writerow(
            [
                patient.subject_id,
                response.site_id,
                response.timepoint,
                response.completed_at.isoformat() if response.completed_at else "",
                response.mode,
                response.version,
                *(answers.get(str(number), "") for number in instrument.item_numbers),
                *("" if scores.get(code) is None else scores[code] for code in codes),
            ]
        )
    return out.getvalue()
