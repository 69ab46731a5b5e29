"""Instrument definitions for any authenticated caller: ``GET /v1/instruments[/{code}]`` and the
FHIR R4 ``GET /fhir/Questionnaire/{id}``.

Text is in the caller's language (``?lang=``, else a patient's own language) with English as the
fallback, and every definition says plainly which of its parts are verified against a source and
which are not (the shipped QLQ-GINET21 is a placeholder, DOMAIN.md section 6).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.common.auth import CurrentPrincipal
from services.common.errors import NotFound, problem_responses
from services.common.fhir import FhirJSONResponse, FhirRoute
from services.common.session import SessionDep
from services.pro_api.instruments.catalog import Instrument, InstrumentCatalog
from services.pro_api.questionnaires import fhir
from services.pro_api.questionnaires.repository import find_own_patient


def get_catalog(request: Request) -> InstrumentCatalog:
    catalog: InstrumentCatalog = request.app.state.instruments
    return catalog


CatalogDep = Annotated[InstrumentCatalog, Depends(get_catalog)]
Lang = Annotated[
    str | None,
    Query(
        max_length=16,
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$",
        description="Language tag, e.g. `en`, `pt-BR`; defaults to a patient's own language, "
        "then English. Text missing in that language falls back to English.",
    ),
]


class OptionOut(BaseModel):
    code: int
    label: str


class ShowIfOut(BaseModel):
    item: int
    answered_with: list[int]


class ItemOut(BaseModel):
    number: int
    questionnaire: str
    text: str
    recall_period: str | None
    options: list[OptionOut]
    show_if: ShowIfOut | None
    verified: bool


class ScaleOut(BaseModel):
    code: str
    name: str
    questionnaire: str
    items: list[int]
    kind: str = Field(description="functional | symptom | global (EORTC scoring manual)")
    range: int
    verified: bool


class SummaryComponentOut(BaseModel):
    scale: str
    reverse: bool


class SummaryScoreOut(BaseModel):
    code: str
    name: str
    components: list[SummaryComponentOut]
    source: str


class PartVerification(BaseModel):
    items_text: bool
    response_options: bool
    recall_periods: bool
    scales: bool
    copyright_notice: bool


class PartOut(BaseModel):
    code: str
    name: str
    version: str
    copyright_notice: str
    licence: str
    provenance: str
    checked_against: list[str]
    verified: PartVerification
    fully_verified: bool
    verification_note: str | None = Field(
        description="Plain words on what is and is not verified; present when anything is not."
    )


class InstrumentSummary(BaseModel):
    code: str
    name: str
    items: int
    fully_verified: bool
    questionnaires: list[str]


class InstrumentDefinition(BaseModel):
    code: str
    name: str
    language: str
    fully_verified: bool
    warning: str | None = Field(description="Set when any part is unverified; show it to staff.")
    questionnaires: list[PartOut]
    items: list[ItemOut]
    scales: list[ScaleOut]
    summary_scores: list[SummaryScoreOut]


def definition(instrument: Instrument, lang: str) -> dict[str, Any]:
    part_of = {item.number: part.code for part in instrument.parts for item in part.items}
    scale_part = {scale.code: part.code for part in instrument.parts for scale in part.scales}
    unverified = [part.code for part in instrument.parts if part.verification]
    return {
        "code": instrument.code,
        "name": instrument.name.text_for(lang),
        "language": lang,
        "fully_verified": instrument.fully_verified,
        "warning": (
            f"Not fully verified: {', '.join(unverified)}. See each questionnaire's "
            "verification_note before any patient use."
            if unverified
            else None
        ),
        "questionnaires": [
            {
                "code": part.code,
                "name": part.name.text_for(lang),
                "version": part.version,
                "copyright_notice": part.copyright.notice,
                "licence": part.copyright.licence,
                "provenance": part.provenance.source,
                "checked_against": part.provenance.checked_against,
                "verified": part.provenance.verified.model_dump(),
                "fully_verified": all(part.provenance.verified.model_dump().values()),
                "verification_note": part.verification,
            }
            for part in instrument.parts
        ],
        "items": [
            {
                "number": item.number,
                "questionnaire": part_of[item.number],
                "text": item.text_for(lang),
                "recall_period": item.recall_period.text_for(lang) if item.recall_period else None,
                "options": [
                    {"code": option.code, "label": option.label.text_for(lang)}
                    for option in item.options
                ],
                "show_if": (
                    {"item": item.show_if.item, "answered_with": item.show_if.in_}
                    if item.show_if
                    else None
                ),
                "verified": item.verified,
            }
            for item in instrument.items
        ],
        "scales": [
            {
                "code": scale.code,
                "name": scale.name.text_for(lang),
                "questionnaire": scale_part[scale.code],
                "items": scale.items,
                "kind": scale.kind,
                "range": scale.range,
                "verified": scale.verified,
            }
            for scale in instrument.scales
        ],
        "summary_scores": [
            {
                "code": summary.code,
                "name": summary.name.text_for(lang),
                "components": [c.model_dump() for c in summary.components],
                "source": summary.source,
            }
            for summary in instrument.summary_scores
        ],
    }


async def language_of(session: SessionDep, principal: CurrentPrincipal, lang: Lang = None) -> str:
    if lang:
        return lang
    patient = await find_own_patient(session, principal)
    return patient.language if patient is not None else "en"


def instrument_or_404(catalog: InstrumentCatalog, code: str) -> Instrument:
    if code not in catalog:
        raise NotFound(f"Instrument {code!r} (available: {', '.join(catalog.codes)})")
    return catalog.get(code)


LanguageDep = Annotated[str, Depends(language_of)]

router = APIRouter(prefix="/v1/instruments", tags=["instruments"])


@router.get("", response_model=list[InstrumentSummary], responses=problem_responses(401))
async def list_instruments(
    catalog: CatalogDep, lang: LanguageDep, _principal: CurrentPrincipal
) -> list[dict[str, Any]]:
    return [
        {
            "code": instrument.code,
            "name": instrument.name.text_for(lang),
            "items": len(instrument.items),
            "fully_verified": instrument.fully_verified,
            "questionnaires": [part.code for part in instrument.parts],
        }
        for instrument in catalog
    ]


@router.get(
    "/{code}", response_model=InstrumentDefinition, responses=problem_responses(401, 404, 422)
)
async def get_instrument(
    code: str, catalog: CatalogDep, lang: LanguageDep, _principal: CurrentPrincipal
) -> dict[str, Any]:
    return definition(instrument_or_404(catalog, code), lang)


fhir_router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)


@fhir_router.get(
    "/Questionnaire/{id}",
    response_class=FhirJSONResponse,
    responses=problem_responses(401, 404, 422),
    description="FHIR R4 Questionnaire of an instrument (id = instrument code, e.g. `eortc-net`). "
    "Errors are FHIR OperationOutcome documents.",
)
async def get_fhir_questionnaire(
    id: str, catalog: CatalogDep, lang: LanguageDep, _principal: CurrentPrincipal
) -> FhirJSONResponse:
    return FhirJSONResponse(fhir.questionnaire_resource(instrument_or_404(catalog, id), lang))
