"""The committed OpenAPI documents are what the apps serve: regenerate with `make openapi`."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.cli import openapi_documents, render_openapi

OPENAPI_DIR = Path(__file__).resolve().parents[2] / "openapi"


@pytest.mark.parametrize("service", ["pro_api", "safety_api"])
def test_committed_openapi_matches_the_app(service: str) -> None:
    committed = (OPENAPI_DIR / f"{service}.json").read_text()
    assert committed == render_openapi(openapi_documents()[service]), (
        f"openapi/{service}.json is out of date: run `make openapi` and commit the result"
    )


@pytest.mark.parametrize("service", ["pro_api", "safety_api"])
def test_every_error_response_is_a_problem_document_or_fhir_outcome(service: str) -> None:
    document = openapi_documents()[service]
    for path, operations in document["paths"].items():
        expected = (
            "application/fhir+json" if path.startswith("/fhir") else "application/problem+json"
        )
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert expected in response.get("content", {}), (
                        f"{method.upper()} {path} {status} is not documented as {expected}"
                    )
