"""The AE record as FHIR R4: ``GET /fhir/AdverseEvent?subject=<study subject ID>``.

Resources are built with ``fhir.resources.R4B`` models, so every resource sent has been validated.
The CTCAE grade travels in the HL7 AE Clinical Research R4 Backport IG's ``ae-grade`` extension,
coded as lab Observations code it (``labs.fhir``): the NCI Thesaurus concept of the
adverse-event-clinical-research-grades value set plus the grade number; the term is coded in
MedDRA. Errors are OperationOutcome resources through ``services.common.fhir.FhirRoute``, the
one FHIR route class of both services.
"""

from __future__ import annotations

from collections.abc import Sequence

from fhir.resources.R4B.adverseevent import AdverseEvent as FhirAdverseEvent
from fhir.resources.R4B.bundle import Bundle

from services.safety_api.labs.fhir import AE_GRADE, CTCAE_GRADE, NCIT, NCIT_GRADES
from services.safety_api.models import AdverseEvent

MEDDRA = "http://terminology.hl7.org/CodeSystem/mdr"
AE_IDENTIFIER = "urn:captem:adverse-event"
GRADE_ORIGIN = "urn:captem:grade-origin"
TRIAL = {
    "identifier": {"system": "https://clinicaltrials.gov", "value": "NCT04339036"},
    "display": "CapTemY90",
}


def _grade_origin(event: AdverseEvent) -> tuple[str, str]:
    if event.clinician_grade is not None:
        return "clinician-confirmed", "Grade confirmed or set by a clinician"
    if event.patient_reported:
        return "patient-reported", "Patient-reported CTCAE grade, awaiting clinician review"
    if event.source_kind == "lab":
        return "lab", "Graded from a lab result"
    return "staff-reported", "Graded from a symptom report entered by site staff"


def adverse_event_resource(event: AdverseEvent, grade: int) -> FhirAdverseEvent:
    ncit_code, ncit_display = NCIT_GRADES[grade]
    origin, origin_display = _grade_origin(event)
    return FhirAdverseEvent.model_validate(
        {
            "resourceType": "AdverseEvent",
            "id": event.id,
            "meta": {"tag": [{"system": GRADE_ORIGIN, "code": origin, "display": origin_display}]},
            "extension": [
                {
                    "url": AE_GRADE,
                    "valueCodeableConcept": {
                        "coding": [
                            {"system": NCIT, "code": ncit_code, "display": ncit_display},
                            {
                                "system": CTCAE_GRADE,
                                "code": str(grade),
                                "display": f"Grade {grade}",
                            },
                        ],
                        "text": f"CTCAE v4.03 {event.term}: grade {grade}",
                    },
                }
            ],
            "identifier": {"system": AE_IDENTIFIER, "value": event.id},
            "actuality": "actual",
            "event": {
                "coding": [{"system": MEDDRA, "code": event.meddra_code, "display": event.term}],
                "text": event.term,
            },
            "subject": {"identifier": {"value": event.subject_id}},
            "date": event.occurred_at.isoformat(),
            "study": [TRIAL],
        }
    )


def searchset(events: Sequence[tuple[AdverseEvent, int]], self_url: str) -> Bundle:
    """A searchset Bundle of (occurrence, effective grade) pairs."""
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(events),
            "link": [{"relation": "self", "url": self_url}],
            "entry": [
                {
                    "fullUrl": f"urn:uuid:{event.id}",
                    "resource": adverse_event_resource(event, grade).model_dump(),
                    "search": {"mode": "match"},
                }
                for event, grade in events
            ],
        }
    )
