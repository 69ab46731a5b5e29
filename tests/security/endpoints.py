"""Every endpoint of both OpenAPI documents, classified for the security matrix.

The endpoint list comes from the live applications, so a new route is in the matrix the day it
is added; ``test_every_endpoint_is_classified`` fails until it is entered in ``RULES`` below
(public or not, whether it writes, which resource it names and how to call it properly).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from services.common.settings import SERVICES, Settings
from tests.support.apps import build_app

PAGE_PREFIXES = ("/app", "/staff")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Owner = Literal["site", "subject", "patient", "alert", "event", "observation", "response"]


@dataclass(frozen=True)
class Rule:
    """How an endpoint is protected.

    ``owner``: the resource the request names (path, query or body), so another site's staff
    must get 404. ``caller``: the site-scoped role that may use it at its own site. ``writes``:
    False for a POST that only computes (monitor may call it). ``listing``: a list or report
    filtered to the caller's scope, where "not found" is an answer without the other site's data.
    ``transaction``: a FHIR transaction Bundle, refused as a whole (422) naming the entry's 404.
    """

    public: bool = False
    writes: bool | None = None
    owner: Owner | None = None
    caller: str = "site_staff"
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    listing: bool = False
    patient_names_subject: bool = False
    transaction: bool = False


def observation(subject: str) -> dict[str, Any]:
    taken = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]},
        "effectiveDateTime": taken,
        "valueQuantity": {"value": 55, "unit": "U/L", "system": "http://unitsofmeasure.org"},
        "referenceRange": [{"low": {"value": 7}, "high": {"value": 40}}],
        "subject": {"identifier": {"value": subject}},
    }


REASON = {"reason": "Security matrix check."}
ANSWERS = {str(n): 7 if n in (29, 30) else 1 for n in range(1, 52)}

RULES: dict[str, Rule] = {
    # -- both services ----------------------------------------------------------------------
    "pro_api GET /healthz": Rule(public=True),
    "pro_api GET /readyz": Rule(public=True),
    "safety_api GET /healthz": Rule(public=True),
    "safety_api GET /readyz": Rule(public=True),
    "pro_api GET /v1/sites/{site_id}": Rule(owner="site"),
    "pro_api PUT /v1/sites/{site_id}": Rule(
        caller="trial_admin", body={"name": "S", "timezone": "UTC"}
    ),
    "safety_api GET /v1/sites/{site_id}": Rule(owner="site"),
    "safety_api PUT /v1/sites/{site_id}": Rule(
        caller="trial_admin", body={"name": "S", "timezone": "UTC"}
    ),
    # -- pro_api ----------------------------------------------------------------------------
    "pro_api POST /v1/auth/activate": Rule(public=True),
    "pro_api POST /v1/auth/refresh": Rule(public=True),
    "pro_api GET /v1/instruments": Rule(),
    "pro_api GET /v1/instruments/{code}": Rule(),
    "pro_api GET /fhir/Questionnaire/{id}": Rule(),
    "pro_api GET /v1/me/assessments": Rule(caller="patient"),
    "pro_api POST /v1/me/questionnaire-responses": Rule(caller="patient"),
    "pro_api GET /v1/me/questionnaire-responses/{timepoint}/draft": Rule(caller="patient"),
    "pro_api PUT /v1/me/questionnaire-responses/{timepoint}/draft": Rule(caller="patient"),
    "pro_api POST /fhir/QuestionnaireResponse": Rule(caller="patient"),
    "pro_api GET /fhir/QuestionnaireResponse": Rule(
        owner="subject", query={"subject": "{subject_id}"}, patient_names_subject=True
    ),
    "pro_api GET /v1/patients": Rule(listing=True, query={"site_id": "{site_id}"}),
    "pro_api POST /v1/patients": Rule(),
    "pro_api GET /v1/patients/{patient_id}": Rule(owner="patient"),
    "pro_api PATCH /v1/patients/{patient_id}": Rule(
        owner="patient", body={"tare_dates": [], **REASON}
    ),
    "pro_api POST /v1/patients/{patient_id}/activation-code": Rule(owner="patient"),
    "pro_api POST /v1/patients/{patient_id}/complete": Rule(owner="patient", body=REASON),
    "pro_api POST /v1/patients/{patient_id}/withdraw": Rule(owner="patient", body=REASON),
    "pro_api GET /v1/patients/{patient_id}/questionnaire-responses": Rule(owner="patient"),
    "pro_api POST /v1/patients/{patient_id}/questionnaire-responses": Rule(
        owner="patient",
        body={"timepoint": "baseline", "answers": ANSWERS, "mode": "paper", **REASON},
    ),
    "pro_api GET /v1/patients/{patient_id}/questionnaire-responses/{response_id}": Rule(
        owner="response"
    ),
    "pro_api POST /v1/patients/{patient_id}/questionnaire-responses/{response_id}/corrections": (
        Rule(owner="response", body={"answers": ANSWERS, **REASON})
    ),
    "pro_api GET /v1/me/diary": Rule(caller="patient"),
    "pro_api PUT /v1/me/diary/{date}": Rule(caller="patient", body={"doses": []}),
    "pro_api GET /v1/patients/{patient_id}/diary": Rule(owner="patient"),
    "pro_api GET /v1/patients/{patient_id}/adherence": Rule(owner="patient"),
    "pro_api POST /v1/patients/{patient_id}/dose-holds": Rule(
        owner="patient", body={"date": "{date}", "drug": "capecitabine", **REASON}
    ),
    "pro_api POST /v1/patients/{patient_id}/dose-changes": Rule(
        owner="patient", body={"from_cycle": 2, "drug": "capecitabine", "mg": 1000, **REASON}
    ),
    "pro_api POST /v1/patients/{patient_id}/cycle-delays": Rule(
        owner="patient", body={"cycle": 2, "starts_on": "{later}", **REASON}
    ),
    "pro_api GET /v1/reports/adherence": Rule(listing=True, query={"site": "{site_id}"}),
    "pro_api GET /v1/sites/{site_id}/reminder-webhook": Rule(owner="site", caller="site_admin"),
    "pro_api PUT /v1/sites/{site_id}/reminder-webhook": Rule(
        owner="site",
        caller="site_admin",
        body={"url": "https://example.org/remind", "secret": "whsec_" + "A" * 44},
    ),
    "pro_api GET /v1/reports/questionnaire-completion": Rule(
        listing=True, query={"site": "{site_id}"}
    ),
    "pro_api GET /v1/reports/questionnaires.csv": Rule(listing=True, query={"site": "{site_id}"}),
    # -- safety_api -------------------------------------------------------------------------
    "safety_api POST /v1/grade": Rule(
        writes=False,
        body={"kind": "lab", "analyte": "ALT", "value": 50, "unit": "U/L", "ref_high": 40},
    ),
    "safety_api GET /v1/subjects/{subject_id}": Rule(owner="subject"),
    "safety_api PUT /v1/subjects/{subject_id}": Rule(
        owner="subject", body={"site_id": "{site_id}", "treatment_start": "2026-01-05"}
    ),
    "safety_api GET /v1/subjects/{subject_id}/adverse-events": Rule(owner="subject"),
    "safety_api GET /v1/subjects/{subject_id}/labs": Rule(owner="subject"),
    "safety_api POST /v1/adverse-events/{event_id}/confirm": Rule(
        owner="event", body={"grade": 1, **REASON}
    ),
    "safety_api GET /fhir/AdverseEvent": Rule(owner="subject", query={"subject": "{subject_id}"}),
    "safety_api POST /v1/labs": Rule(
        owner="subject",
        caller="ehr_client",
        body={
            "subject_id": "{subject_id}",
            "collected_at": "{now}",
            "results": [
                {"analyte": "ALT", "value": 45, "unit": "U/L", "ref_low": 7, "ref_high": 40}
            ],
        },
    ),
    "safety_api POST /fhir/Observation": Rule(
        owner="subject", caller="ehr_client", body=observation("{subject_id}")
    ),
    "safety_api POST /fhir": Rule(
        owner="subject",
        caller="ehr_client",
        transaction=True,
        body={
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"resource": observation("{subject_id}")}],
        },
    ),
    "safety_api GET /fhir/Observation/{observation_id}": Rule(owner="observation"),
    "safety_api POST /v1/symptom-reports": Rule(
        owner="subject",
        body={
            "subject_id": "{subject_id}",
            "reported_at": "{now}",
            "source": "staff",
            "report": {"vomiting_episodes": 1},
        },
    ),
    "safety_api GET /v1/alerts": Rule(listing=True, query={"subject_id": "{subject_id}"}),
    "safety_api GET /v1/alerts/{alert_id}": Rule(owner="alert"),
    "safety_api POST /v1/alerts/{alert_id}/acknowledge": Rule(owner="alert"),
    "safety_api POST /v1/alerts/{alert_id}/resolve": Rule(owner="alert", body={"note": "Seen."}),
    "safety_api GET /v1/sites/{site_id}/alert-policy": Rule(owner="site"),
    "safety_api PUT /v1/sites/{site_id}/alert-policy": Rule(
        owner="site", caller="site_admin", body={"overrides": {}}
    ),
    "safety_api GET /v1/sites/{site_id}/webhook": Rule(owner="site", caller="site_admin"),
    "safety_api PUT /v1/sites/{site_id}/webhook": Rule(
        owner="site",
        caller="site_admin",
        body={"url": "https://example.org/hook", "secret": "whsec_" + "A" * 44},
    ),
    "safety_api GET /v1/reports/toxicity": Rule(
        listing=True, query={"category": "hepatic", "site_id": "{site_id}"}
    ),
    "safety_api GET /v1/reports/edish": Rule(listing=True),
}

# Also public, but outside the documents: the documents themselves.
PUBLIC_OUTSIDE_DOCUMENTS = ("GET /openapi.json",)


@dataclass(frozen=True)
class Endpoint:
    service: str
    method: str
    path: str

    @property
    def key(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    @property
    def rule(self) -> Rule:
        return RULES[self.key]

    @property
    def writes(self) -> bool:
        declared = self.rule.writes
        return self.method in WRITE_METHODS if declared is None else declared

    def __str__(self) -> str:
        return self.key


@cache
def documented_endpoints() -> tuple[Endpoint, ...]:
    found = []
    for service in SERVICES:
        document = build_app(service, Settings(env="test")).openapi()
        for path, operations in document["paths"].items():
            if path.startswith(PAGE_PREFIXES):
                continue
            found += [Endpoint(service, method.upper(), path) for method in operations]
    return tuple(found)


def classified(predicate: Any = lambda e: True) -> list[Endpoint]:
    """Endpoints matching ``predicate``; unclassified ones are left to the classification test."""
    return [e for e in documented_endpoints() if e.key in RULES and predicate(e)]


def fill(template: Any, world: dict[str, str]) -> Any:
    """``template`` with ``{name}`` placeholders replaced from one site's seeded ``world``."""
    if isinstance(template, str):
        return template.format(**world) if "{" in template else template
    if isinstance(template, dict):
        return {k: fill(v, world) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, world) for v in template]
    return template
