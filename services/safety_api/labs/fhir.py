"""FHIR R4 lab ingestion: Observations by LOINC, alone or in a Bundle.

Resources are parsed and validated with ``fhir.resources.R4B`` (wire-compatible with R4 for
everything used here). An Observation maps onto the same lab fields as ``/v1/labs``:

- LOINC from ``code.coding`` (system ``http://loinc.org``);
- ``valueQuantity.value`` in ``valueQuantity.code`` (UCUM; ``.unit`` when no code);
- ``referenceRange[0].low.value`` / ``.high.value`` (in the value's unit);
- ``effectiveDateTime`` (or ``effectivePeriod.start``) as the collection time;
- ``subject.identifier.value`` as the study subject ID;
- ``Observation.id`` (else the first ``identifier.value``) as the sender's id: a repeat of the
  same Observation for the same subject returns the stored one instead of storing it twice.

The stored Observation carries its CTCAE v4.03 grade in the AE research IG's ``ae-grade``
extension (DOMAIN §8), coded with the NCI Thesaurus grade concepts of HL7's
adverse-event-clinical-research-grades value set (grades 1-4) plus a local code system holding
every grade 0-4, so grade 0 is machine-readable too.

Bundles: ``batch`` and ``collection`` entries succeed or fail alone (a ``batch-response`` with a
status and, on failure, an OperationOutcome per entry); a ``transaction`` is all or nothing.
Every error on these routes is an OperationOutcome (:class:`FhirRoute`), never problem+json.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.fhir import (
    FHIR_JSON,
    FhirError,
    Issue,
    operation_outcome,
)
from services.common.tables import PlatformTables
from services.safety_api.ctcae import GradingError
from services.safety_api.ctcae import units as ctcae_units
from services.safety_api.ctcae.rules import lab_rules
from services.safety_api.ctcae.schemas import LabIn
from services.safety_api.labs import service
from services.safety_api.models import Subject
from services.safety_api.subjects.repository import find_subject

ACCEPTED_MEDIA_TYPES = frozenset({FHIR_JSON, "application/json"})
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
AE_GRADE = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
# Local code system for the CTCAE grade number itself (0-4); NCIt has no grade 0 concept.
CTCAE_GRADE = "urn:captem:ctcae-v4.03-grade"
# The id the sender gave the Observation, kept as an identifier of the stored one.
SENDER_ID = "urn:captem:sender-observation-id"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

# HL7 value set adverse-event-clinical-research-grades (NCI Thesaurus concepts).
NCIT_GRADES = {
    1: ("C41338", "Grade 1 Mild Adverse Event"),
    2: ("C41339", "Grade 2 Moderate Adverse Event"),
    3: ("C41340", "Grade 3 Severe Adverse Event"),
    4: ("C41337", "Grade 4 Life Threatening or Disabling Adverse Event"),
    5: ("C48275", "Grade 5 Death Related to Adverse Event"),
}
_INTERPRETATION = {"high": ("H", "High"), "low": ("L", "Low"), "normal": ("N", "Normal")}
# Only results a lab has released are graded; a later amendment of a stored result is returned
# as stored (see the module docstring).
ACCEPTED_STATUSES = ("final", "amended", "corrected")
MAX_SOURCE_ID_LENGTH = 200  # lab_results.source_id
# Where each field the grading engine can complain about lives in an Observation.
_FHIR_PATHS = {
    "analyte": "code.coding",
    "loinc": "code.coding",
    "value": "valueQuantity.value",
    "unit": "valueQuantity.code",
    "ref_low": "referenceRange[0].low.value",
    "ref_high": "referenceRange[0].high.value",
}


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


async def read_json_body(request: Request) -> Any:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ACCEPTED_MEDIA_TYPES:
        raise FhirError(
            415,
            [
                Issue(
                    "not-supported",
                    f"Content-Type {media_type or '(none)'} is not accepted; send FHIR JSON with "
                    "Content-Type application/fhir+json (or application/json).",
                )
            ],
        )
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise FhirError(
            400, [Issue("structure", f"The body is not valid JSON ({exc}); send a FHIR resource.")]
        ) from None


# --------------------------------------------------------------------------- Observation in


@dataclass(frozen=True, slots=True)
class ObservationIn:
    subject_id: str
    collected_at: dt.datetime
    source_id: str | None
    lab: LabIn


@dataclass(slots=True)
class _Issues:
    where: str
    found: list[Issue] = field(default_factory=list)

    def add(self, code: str, path: str, diagnostics: str) -> None:
        self.found.append(Issue(code, f"{path}: {diagnostics}", (f"{self.where}.{path}",)))


def _fhir_wording(detail: str) -> str:
    """The engine speaks /v1 field names; say them as an Observation has them."""
    return (
        detail.replace("ref_high", "referenceRange.high")
        .replace("ref_low", "referenceRange.low")
        .replace(", or the analyte name in 'analyte'", "")
    )


def _loinc_code(obs: Observation, issues: _Issues) -> str | None:
    codes = [c.code for c in (obs.code.coding or []) if c.system == LOINC and c.code]
    if not codes:
        issues.add(
            "required",
            "code.coding",
            f"no LOINC coding; add a coding with system {LOINC} and the test's LOINC code.",
        )
        return None
    known = [code for code in codes if code in lab_rules().by_loinc]
    return str((known or codes)[0])


def _collected_at(obs: Observation, issues: _Issues, now: dt.datetime) -> dt.datetime | None:
    path, moment = "effectiveDateTime", obs.effectiveDateTime
    if moment is None and obs.effectivePeriod is not None:
        path, moment = "effectivePeriod.start", obs.effectivePeriod.start
    if moment is None:
        issues.add(
            "required",
            "effectiveDateTime",
            "the collection time is missing; send effectiveDateTime (or effectivePeriod.start) "
            "with a time and UTC offset.",
        )
        return None
    if not isinstance(moment, dt.datetime):
        issues.add(
            "value",
            path,
            f"{moment} has no time of day; send the collection time with a UTC offset, e.g. "
            "2026-03-02T08:15:00-05:00.",
        )
        return None
    problem = service.collected_at_problem(moment, now)
    if problem:
        issues.add("value", path, problem)
        return None
    return moment


def _reference_limit(
    obs: Observation, side: str, unit: str | None, issues: _Issues
) -> float | None:
    if not obs.referenceRange:
        return None
    quantity = getattr(obs.referenceRange[0], side)
    if quantity is None or quantity.value is None:
        return None
    stated = quantity.code or quantity.unit
    if stated and unit and ctcae_units.normalise_unit(stated) != ctcae_units.normalise_unit(unit):
        issues.add(
            "value",
            f"referenceRange[0].{side}.code",
            f"the reference range is in {stated} but the value is in {unit}; send both in the "
            "same unit.",
        )
    return float(quantity.value)


def read_observation(resource: Any, now: dt.datetime, where: str = "Observation") -> ObservationIn:
    """Map an Observation onto lab fields, or raise FhirError 422 listing everything wrong."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        raise FhirError(
            422,
            [
                Issue(
                    "not-supported",
                    f"Only Observation resources are accepted; this is {kind or 'not a resource'}.",
                    (where,),
                )
            ],
        )
    try:
        obs = Observation.model_validate(resource)
    except ValidationError as exc:
        structure = []
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"]) or "Observation"
            message = str(err["msg"]).removeprefix("Value error, ")
            structure.append(Issue("structure", f"{path}: {message}", (f"{where}.{path}",)))
        raise FhirError(422, structure) from None

    issues = _Issues(where)
    if obs.status not in ACCEPTED_STATUSES:
        issues.add(
            "value" if obs.status else "required",
            "status",
            f"status is {obs.status or 'missing'}; only released results are graded: send one "
            f"of {', '.join(ACCEPTED_STATUSES)}.",
        )
    loinc = _loinc_code(obs, issues)
    value = unit = None
    quantity = obs.valueQuantity
    if quantity is None or quantity.value is None:
        issues.add(
            "required",
            "valueQuantity.value",
            "a numeric result is required; send valueQuantity with value and a UCUM code.",
        )
    else:
        value = float(quantity.value)
        unit = quantity.code or quantity.unit
        if not unit:
            issues.add(
                "required",
                "valueQuantity.code",
                "the unit is missing; send the UCUM code in valueQuantity.code, e.g. U/L.",
            )
    ref_low = _reference_limit(obs, "low", unit, issues)
    ref_high = _reference_limit(obs, "high", unit, issues)
    collected_at = _collected_at(obs, issues, now)
    subject_id = None
    if obs.subject is not None and obs.subject.identifier is not None:
        subject_id = obs.subject.identifier.value
    if not subject_id:
        issues.add(
            "required",
            "subject.identifier.value",
            "the study subject is missing; send subject.identifier.value with the study "
            "subject ID, e.g. 101-0007.",
        )
    lab = None
    if value is not None and unit:
        try:
            lab = LabIn(loinc=loinc, value=value, unit=unit, ref_low=ref_low, ref_high=ref_high)
        except ValidationError as exc:
            for err in exc.errors():
                name = str(err["loc"][0]) if err["loc"] else "value"
                issues.add("value", _FHIR_PATHS.get(name, name), str(err["msg"]))
    source_id = obs.id or next((i.value for i in obs.identifier or [] if i.value), None)
    if source_id is not None and len(source_id) > MAX_SOURCE_ID_LENGTH:
        issues.add(
            "value",
            "identifier[0].value",
            f"is {len(source_id)} characters long; send an identifier of at most "
            f"{MAX_SOURCE_ID_LENGTH}.",
        )
    if issues.found:
        raise FhirError(422, issues.found)
    assert lab is not None and collected_at is not None and subject_id is not None
    return ObservationIn(subject_id, collected_at, source_id, lab)


# --------------------------------------------------------------------------- ingestion


@dataclass(frozen=True, slots=True)
class PreparedObservation:
    """An Observation read, its subject found in scope and its result graded: ready to store."""

    observation: ObservationIn
    subject: Subject
    graded: service.GradedLab


# Subjects already looked up (in the caller's scope) for one request's Observations.
SubjectCache = dict[str, Subject | None]


async def prepare(
    session: AsyncSession,
    principal: Principal,
    resource: Any,
    *,
    now: dt.datetime,
    where: str = "Observation",
    subjects: SubjectCache | None = None,
) -> PreparedObservation:
    """Everything short of writing; raises FhirError (422 unreadable or ungradable, 404 subject
    not found or out of the caller's scope)."""
    observation = read_observation(resource, now, where)
    subjects = SubjectCache() if subjects is None else subjects
    if observation.subject_id not in subjects:
        subjects[observation.subject_id] = await find_subject(
            session, principal, observation.subject_id
        )
    subject = subjects[observation.subject_id]
    if subject is None:
        raise FhirError(
            404,
            [
                Issue(
                    "not-found",
                    f"Subject {observation.subject_id} was not found, or you are not allowed to "
                    "see it.",
                    (f"{where}.subject.identifier.value",),
                )
            ],
        )
    try:
        graded = service.grade_one(observation.lab, subject)
    except GradingError as exc:
        path = _FHIR_PATHS.get(exc.field, exc.field)
        raise FhirError(
            422,
            [Issue("processing", f"{path}: {_fhir_wording(exc.detail)}", (f"{where}.{path}",))],
        ) from None
    return PreparedObservation(observation, subject, graded)


async def save_all(
    session: AsyncSession,
    tables: PlatformTables,
    principal: Principal,
    items: Sequence[PreparedObservation],
    *,
    now: dt.datetime,
) -> list[tuple[service.LabRow, bool]]:
    """Store prepared Observations; for each, (row, created). One that was stored before under
    the same Observation.id, or earlier in the same request, is answered with that row.

    Observations of one subject and collection time are stored together, as one ``POST
    /v1/labs`` batch (one insert, one audit event, one alert evaluation), in subject order (the
    order subject locks are taken in), each group in a savepoint so that losing a race with a
    concurrent copy of an Observation costs only that group, which is then stored one by one.
    """
    answers: dict[int, tuple[service.LabRow, bool]] = {}
    first_index: dict[tuple[str, str], int] = {}
    repeats: dict[int, int] = {}
    by_subject: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        source_id = item.observation.source_id
        if source_id is not None:
            key = (item.subject.id, source_id)
            if key in first_index:
                repeats[index] = first_index[key]
                continue
            first_index[key] = index
        by_subject.setdefault(item.subject.id, []).append(index)
    for subject_id in sorted(by_subject):
        indices = by_subject[subject_id]
        stored = await service.find_stored(
            session,
            subject_id,
            "fhir",
            [sid for i in indices if (sid := items[i].observation.source_id) is not None],
        )
        groups: dict[dt.datetime, list[int]] = {}
        for index in indices:
            row = stored.get(items[index].observation.source_id or "")
            if row is not None:
                answers[index] = (row, False)
            else:
                groups.setdefault(items[index].observation.collected_at, []).append(index)
        for group in groups.values():
            for index, answer in zip(
                group,
                await _store_group(session, tables, principal, [items[i] for i in group], now=now),
                strict=True,
            ):
                answers[index] = answer
    for index, first in repeats.items():
        answers[index] = (answers[first][0], False)
    return [answers[index] for index in range(len(items))]


async def _store_group(
    session: AsyncSession,
    tables: PlatformTables,
    principal: Principal,
    group: Sequence[PreparedObservation],
    *,
    now: dt.datetime,
) -> list[tuple[service.LabRow, bool]]:
    """Observations of one subject and collection time, none stored before."""
    first = group[0]
    try:
        async with session.begin_nested():
            stored_batch = await service.store(
                session,
                tables,
                principal,
                first.subject,
                [item.graded for item in group],
                collected_at=first.observation.collected_at,
                received_at=now,
                source="fhir",
                source_ids=[item.observation.source_id for item in group],
            )
        return [(row, True) for row in stored_batch.rows]
    except IntegrityError:
        if len(group) == 1:
            source_id = first.observation.source_id
            if source_id is None:
                raise
            stored = await service.find_stored(session, first.subject.id, "fhir", [source_id])
            if source_id not in stored:
                raise
            return [(stored[source_id], False)]
    # A concurrent request stored one of these Observations first: the rest, one by one.
    return [
        answer
        for item in group
        for answer in await _store_group(session, tables, principal, [item], now=now)
    ]


# --------------------------------------------------------------------------- Observation out


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _quantity(value: Decimal, unit: str) -> dict[str, Any]:
    return {"value": _number(value), "unit": unit, "system": UCUM, "code": unit}


def grade_extension(row: service.LabRow) -> dict[str, Any]:
    assert row["grade"] is not None
    coding = [
        {"system": CTCAE_GRADE, "code": str(row["grade"]), "display": f"Grade {row['grade']}"}
    ]
    if row["grade"] in NCIT_GRADES:
        code, display = NCIT_GRADES[row["grade"]]
        coding.insert(0, {"system": NCIT, "code": code, "display": display})
    text = f"CTCAE v4.03 {row['term']}: grade {row['grade']}"
    if row["criteria"]:
        text += f" ({row['criteria']})"
    return {"url": AE_GRADE, "valueCodeableConcept": {"coding": coding, "text": text}}


def observation_json(row: service.LabRow) -> dict[str, Any]:
    """A stored lab result as a FHIR R4 Observation, with its CTCAE grade when graded."""
    rule = lab_rules().analytes.get(row["analyte"])
    code: dict[str, Any] = {"text": rule.name if rule else row["analyte"]}
    if row["loinc"]:
        code["coding"] = [{"system": LOINC, "code": row["loinc"]}]
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": row["id"],
        "meta": {"lastUpdated": row["received_at"].isoformat()},
    }
    if row["grade"] is not None:
        resource["extension"] = [grade_extension(row)]
    if row["source_id"]:
        resource["identifier"] = [{"system": SENDER_ID, "value": row["source_id"]}]
    resource |= {
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}],
        "code": code,
        "subject": {"identifier": {"value": row["subject_id"]}},
        "effectiveDateTime": row["collected_at"].isoformat(),
        "issued": row["received_at"].isoformat(),
        "valueQuantity": _quantity(row["value"], row["unit"]),
    }
    if row["direction"] in _INTERPRETATION:
        flag, display = _INTERPRETATION[row["direction"]]
        resource["interpretation"] = [
            {"coding": [{"system": INTERPRETATION, "code": flag, "display": display}]}
        ]
    reference: dict[str, Any] = {}
    if row["ref_low"] is not None:
        reference["low"] = _quantity(row["ref_low"], row["unit"])
    if row["ref_high"] is not None:
        reference["high"] = _quantity(row["ref_high"], row["unit"])
    if reference:
        resource["referenceRange"] = [reference]
    return resource


# --------------------------------------------------------------------------- Bundles


def _success_entry(row: service.LabRow, created: bool) -> dict[str, Any]:
    return {
        "fullUrl": f"Observation/{row['id']}",
        "resource": observation_json(row),
        "response": {
            "status": _status_line(201 if created else 200),
            "location": f"Observation/{row['id']}",
            "lastModified": row["received_at"].isoformat(),
        },
    }


def _failure_entry(error: FhirError) -> dict[str, Any]:
    return {
        "response": {
            "status": _status_line(error.status),
            "outcome": operation_outcome(error.issues),
        }
    }


def _entry_resource(entry: Any, index: int) -> Any:
    """The entry's resource, refusing requests other than creating an Observation."""
    where = f"Bundle.entry[{index}]"
    if not isinstance(entry, dict):
        raise FhirError(422, [Issue("structure", f"{where} is not an object.", (where,))])
    request = entry.get("request")
    if isinstance(request, dict):
        method = str(request.get("method", "POST")).upper()
        url = str(request.get("url", "Observation"))
        if method != "POST" or url.split("?")[0].rstrip("/") != "Observation":
            raise FhirError(
                422,
                [
                    Issue(
                        "not-supported",
                        f"{where}.request is {method} {url}; only POST Observation is accepted.",
                        (f"{where}.request",),
                    )
                ],
            )
    return entry.get("resource")


def _read_bundle(bundle: Any) -> tuple[str, list[Any]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        kind = bundle.get("resourceType") if isinstance(bundle, dict) else None
        raise FhirError(
            422,
            [
                Issue(
                    "not-supported",
                    f"POST /fhir takes a Bundle; this is {kind or 'not a resource'}. Post a "
                    "single Observation to /fhir/Observation.",
                )
            ],
        )
    kind = bundle.get("type")
    if kind not in ("batch", "transaction", "collection"):
        raise FhirError(
            422,
            [
                Issue(
                    "not-supported",
                    f"Bundle.type {kind!r} is not accepted; send batch, transaction or collection.",
                    ("Bundle.type",),
                )
            ],
        )
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirError(
            422, [Issue("structure", "Bundle.entry must be an array.", ("Bundle.entry",))]
        )
    return str(kind), entries


async def ingest_bundle(
    session: AsyncSession,
    tables: PlatformTables,
    principal: Principal,
    bundle: Any,
    *,
    now: dt.datetime,
) -> dict[str, Any]:
    """A batch (or collection) stores each good entry and reports each bad one; a transaction
    stores all or, if any entry fails, nothing (FhirError 422 listing every failed entry)."""
    kind, entries = _read_bundle(bundle)
    if kind == "transaction":
        return await _transaction(session, tables, principal, entries, now=now)
    answers: list[dict[str, Any] | None] = []
    good: list[tuple[int, PreparedObservation]] = []
    subjects = SubjectCache()
    for index, entry in enumerate(entries):
        try:
            resource = _entry_resource(entry, index)
            where = f"Bundle.entry[{index}].resource"
            prepared = await prepare(
                session, principal, resource, now=now, where=where, subjects=subjects
            )
            good.append((len(answers), prepared))
            answers.append(None)
        except FhirError as exc:
            answers.append(_failure_entry(exc))
    saved = await save_all(session, tables, principal, [p for _, p in good], now=now)
    for (position, _), (row, created) in zip(good, saved, strict=True):
        answers[position] = _success_entry(row, created)
    return {"resourceType": "Bundle", "type": "batch-response", "entry": answers}


async def _transaction(
    session: AsyncSession,
    tables: PlatformTables,
    principal: Principal,
    entries: Sequence[Any],
    *,
    now: dt.datetime,
) -> dict[str, Any]:
    prepared: list[PreparedObservation] = []
    subjects = SubjectCache()
    failed: list[Issue] = []
    failed_entries = 0
    for index, entry in enumerate(entries):
        try:
            resource = _entry_resource(entry, index)
            where = f"Bundle.entry[{index}].resource"
            prepared.append(
                await prepare(session, principal, resource, now=now, where=where, subjects=subjects)
            )
        except FhirError as exc:
            failed_entries += 1
            full_url = entry.get("fullUrl") if isinstance(entry, dict) else None
            label = f"Bundle.entry[{index}]" + (f" ({full_url})" if full_url else "")
            failed.extend(
                Issue(
                    issue.code,
                    f"{label} failed with {_status_line(exc.status)}: {issue.diagnostics}",
                    issue.expression or (f"Bundle.entry[{index}]",),
                )
                for issue in exc.issues
            )
    if failed:
        summary = Issue(
            "processing",
            f"The transaction was not applied and nothing was stored: {failed_entries} of "
            f"{len(entries)} entries failed, listed below. Fix them and send the whole Bundle "
            "again.",
        )
        raise FhirError(422, [summary, *failed])
    answers = [
        _success_entry(row, created)
        for row, created in await save_all(session, tables, principal, prepared, now=now)
    ]
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": answers}
