"""FHIR R4 views of instruments and responses (built and validated with ``fhir.resources.R4B``).

- Questionnaire: ``id`` = instrument code, ``url`` = ``urn:captem:questionnaire:<code>``; one
  ``choice`` item per EORTC item, linkId = item number, ``answerOption.valueCoding`` code = the
  response code (as text) and display = its label; conditional items use ``enableWhen``. Status
  is ``draft`` while any part of the definition is unverified (the shipped QLQ-GINET21).
- QuestionnaireResponse in: ``questionnaire`` canonical (``urn:captem:questionnaire:eortc-net``,
  ``Questionnaire/eortc-net`` or any URL ending so, ``|version`` ignored) -> instrument; each
  item's linkId -> item number (nested groups are walked); answer ``valueCoding.code`` or
  ``valueInteger`` -> response code. The timepoint travels in the extension
  ``urn:captem:fhir:timepoint`` (``valueCode`` or ``valueString``: ``baseline``, ``M3`` ...):
  an extension rather than ``identifier``, because identifier names the response itself, not the
  protocol visit it belongs to. ``status`` ``completed`` submits, ``in-progress`` saves a draft.
- Scores out: one Observation per scored scale (code system ``urn:captem:eortc-scale``, code =
  EORTC abbreviation), ``derivedFrom`` the response. Scales the half rule leaves unscored get no
  Observation. Subjects are referenced by identifier (study subject ID), not by a Patient resource
  this service does not serve.
- Errors on /fhir routes are OperationOutcome documents (``services.common.fhir.FhirRoute``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirQR
from pydantic import ValidationError

from services.common.errors import FieldProblem, field_error
from services.pro_api.instruments.catalog import Instrument
from services.pro_api.models import Patient, QuestionnaireResponse

QUESTIONNAIRE_URN = "urn:captem:questionnaire:"
TIMEPOINT_EXTENSION = "urn:captem:fhir:timepoint"
VERIFIED_EXTENSION = "urn:captem:fhir:verified"
SCALE_SYSTEM = "urn:captem:eortc-scale"
SUBJECT_SYSTEM = "urn:captem:subject-id"
DRAFT, COMPLETED = "in-progress", "completed"


def _json(resource: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = resource.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


# -- Questionnaire ----------------------------------------------------------------------------


def canonical(instrument_code: str) -> str:
    return QUESTIONNAIRE_URN + instrument_code


def questionnaire_resource(instrument: Instrument, lang: str | None) -> dict[str, Any]:
    part_of = {item.number: part for part in instrument.parts for item in part.items}
    items = []
    for item in instrument.items:
        entry: dict[str, Any] = {
            "linkId": str(item.number),
            "prefix": str(item.number),
            "text": item.text_for(lang),
            "type": "choice",
            "required": False,
            "answerOption": [
                {"valueCoding": {"code": str(option.code), "display": option.label.text_for(lang)}}
                for option in item.options
            ],
            "extension": [{"url": VERIFIED_EXTENSION, "valueBoolean": item.verified}],
        }
        if item.recall_period is not None:
            entry["text"] = f"{item.text_for(lang)} ({item.recall_period.text_for(lang)})"
        if item.show_if is not None:
            entry["enableWhen"] = [
                {
                    "question": str(item.show_if.item),
                    "operator": "=",
                    "answerCoding": {"code": str(c)},
                }
                for c in item.show_if.in_
            ]
            entry["enableBehavior"] = "any"
        entry["definition"] = f"{canonical(part_of[item.number].code)}#{item.number}"
        items.append(entry)
    unverified = [part for part in instrument.parts if part.verification]
    description = instrument.name.text_for(lang)
    if unverified:
        description += " NOT FULLY VERIFIED: " + " ".join(
            f"{part.code}: {part.verification}" for part in unverified
        )
    resource = {
        "resourceType": "Questionnaire",
        "id": instrument.code,
        "url": canonical(instrument.code),
        "version": "+".join(f"{part.code}:{part.version}" for part in instrument.parts),
        "name": instrument.code.replace("-", "_").upper(),
        "title": instrument.name.text_for(lang),
        "status": "active" if instrument.fully_verified else "draft",
        "subjectType": ["Patient"],
        "description": description,
        "copyright": " ".join(
            f"{part.code}: {part.copyright.notice} {part.copyright.licence}"
            for part in instrument.parts
        ),
        "language": lang or "en",
        "item": items,
    }
    return _json(Questionnaire.model_validate(resource))


# -- QuestionnaireResponse in -----------------------------------------------------------------


@dataclass(frozen=True)
class FhirSubmission:
    instrument: str
    timepoint: str
    status: str  # "completed" | "draft"
    answers: dict[str, int | None]
    subject: str | None


def _walk(items: list[dict[str, Any]], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, item in enumerate(items):
        where = f"{path}.item[{index}]"
        if item.get("answer"):
            yield where, item
        yield from _walk(item.get("item") or [], where)


def _instrument_code(questionnaire: str | None) -> str | None:
    if not questionnaire:
        return None
    reference = questionnaire.split("|", 1)[0]
    for marker in (QUESTIONNAIRE_URN, "Questionnaire/"):
        if marker in reference:
            return reference.rsplit(marker, 1)[1].strip("/") or None
    return None


def parse_questionnaire_response(body: Any) -> FhirSubmission:
    """A posted FHIR QuestionnaireResponse, validated with R4B, as a plain submission."""
    if not isinstance(body, dict) or body.get("resourceType") != "QuestionnaireResponse":
        raise FieldProblem(
            [field_error("resourceType", "must be QuestionnaireResponse.", "")], status=400
        )
    try:
        resource = _json(FhirQR.model_validate(body))
    except ValidationError as error:
        errors = [
            field_error("QuestionnaireResponse." + ".".join(str(p) for p in e["loc"]), e["msg"], "")
            for e in error.errors()
        ]
        raise FieldProblem(errors, status=400) from None
    errors = []
    instrument = _instrument_code(resource.get("questionnaire"))
    if instrument is None:
        errors.append(
            field_error(
                "QuestionnaireResponse.questionnaire",
                "must name the questionnaire answered.",
                f"Use the canonical {canonical('eortc-net')}.",
            )
        )
    timepoints = [
        ext.get("valueCode") or ext.get("valueString")
        for ext in resource.get("extension", [])
        if ext.get("url") == TIMEPOINT_EXTENSION
    ]
    if len(timepoints) != 1 or not timepoints[0]:
        errors.append(
            field_error(
                "QuestionnaireResponse.extension",
                "must carry exactly one timepoint.",
                f'Add {{"url": "{TIMEPOINT_EXTENSION}", "valueCode": "M3"}}.',
            )
        )
    status = resource.get("status")
    if status not in (COMPLETED, DRAFT):
        errors.append(
            field_error(
                "QuestionnaireResponse.status",
                f"{status!r} cannot be accepted.",
                f"Use {COMPLETED!r} to submit or {DRAFT!r} to save a draft.",
            )
        )
    answers: dict[str, int | None] = {}
    for where, item in _walk(resource.get("item", []), "QuestionnaireResponse"):
        answer = item["answer"]
        link = str(item.get("linkId"))
        code = _answer_code(answer[0]) if len(answer) == 1 else None
        if code is None:
            errors.append(
                field_error(
                    f"{where}.answer",
                    f"item {link} needs exactly one answer with valueCoding.code or valueInteger.",
                    "Send the response code, e.g. valueCoding {code: '2'}.",
                )
            )
            continue
        answers[link] = code
    if errors:
        raise FieldProblem(errors)
    subject = resource.get("subject", {}).get("identifier", {}).get("value")
    return FhirSubmission(
        instrument=instrument or "",
        timepoint=str(timepoints[0]),
        status="completed" if status == COMPLETED else "draft",
        answers=answers,
        subject=subject,
    )


def _answer_code(answer: dict[str, Any]) -> int | None:
    if "valueInteger" in answer:
        return int(answer["valueInteger"])
    code = answer.get("valueCoding", {}).get("code")
    if isinstance(code, str) and code.lstrip("-").isdigit():
        return int(code)
    return None


# -- QuestionnaireResponse and Observations out -----------------------------------------------


def _subject(patient: Patient) -> dict[str, Any]:
    return {
        "identifier": {"system": SUBJECT_SYSTEM, "value": patient.subject_id},
        "display": patient.subject_id,
    }


def _instant(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def questionnaire_response_resource(row: QuestionnaireResponse, patient: Patient) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": row.id,
        "meta": {"versionId": str(row.version), "lastUpdated": _instant(row.updated_at)},
        "questionnaire": canonical(row.instrument),
        "status": {"draft": DRAFT, "completed": COMPLETED, "superseded": "amended"}[row.status],
        "subject": _subject(patient),
        "authored": _instant(row.completed_at or row.updated_at),
        "extension": [{"url": TIMEPOINT_EXTENSION, "valueCode": row.timepoint}],
        "item": [
            {
                "linkId": number,
                "answer": [{"valueCoding": {"code": str(code)}}],
            }
            for number, code in sorted(row.answers.items(), key=lambda kv: int(kv[0]))
        ],
    }
    if row.supersedes_id:
        resource["identifier"] = {"system": "urn:captem:response-version", "value": row.id}
    return _json(FhirQR.model_validate(resource))


def score_observations(
    row: QuestionnaireResponse, patient: Patient, instrument: Instrument
) -> list[dict[str, Any]]:
    names = {scale.code: (scale.name, scale.verified) for scale in instrument.scales}
    names.update({s.code: (s.name, True) for s in instrument.summary_scores})
    observations = []
    for code, value in (row.scores or {}).items():
        if value is None:
            continue
        name, verified = names.get(code, (None, False))
        display = name.text_for("en") if name is not None else code
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"{row.id}-{code}",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "survey",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": SCALE_SYSTEM, "code": code, "display": display}]},
            "subject": _subject(patient),
            "effectiveDateTime": _instant(row.completed_at),
            "valueQuantity": {"value": value, "unit": "score"},
            "derivedFrom": [{"reference": f"QuestionnaireResponse/{row.id}"}],
        }
        if not verified:
            observation["note"] = [
                {"text": "Provisional scale: its items and scoring are not verified."}
            ]
        observations.append(_json(Observation.model_validate(observation)))
    return observations


def searchset(
    base_url: str,
    found: list[tuple[QuestionnaireResponse, Patient]],
    instrument: Instrument,
) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for row, patient in found:
        entries.append(
            {
                "fullUrl": f"{base_url}/fhir/QuestionnaireResponse/{row.id}",
                "resource": questionnaire_response_resource(row, patient),
                "search": {"mode": "match"},
            }
        )
        for observation in score_observations(row, patient, instrument):
            entries.append(
                {
                    "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, observation['id'])}",
                    "resource": observation,
                    "search": {"mode": "include"},
                }
            )
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(found), "entry": entries}
    return _json(Bundle.model_validate(bundle))
