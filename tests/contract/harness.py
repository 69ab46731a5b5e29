"""Schemathesis (v4) against an in-process app: every documented operation, for each caller,
with bounded, deterministic generation so the contract suite stays fast on two cores.

Checks: no 5xx, every status documented, every response's content type and body as documented.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Page routes are HTML for people, not part of the API contract.
PAGE_PREFIXES = ("/app", "/staff")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 25


def operation_labels(openapi: Mapping[str, Any]) -> Iterator[str]:
    for path, operations in openapi["paths"].items():
        if path.startswith(PAGE_PREFIXES):
            continue
        for method in operations:
            yield f"{method.upper()} {path}"


def load_schema(app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def check_operation(
    schema: Any,
    label: str,
    headers: Mapping[str, str],
    path_parameters: Mapping[str, str] | None = None,
) -> None:
    """Generate valid and invalid requests for one operation and validate every response."""
    operation = schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the OpenAPI document"
    known = {
        name: value
        for name, value in (path_parameters or {}).items()
        if name in {p.name for p in operation.path_parameters}
    }
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known or None),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=cases)
    def requests_conform(case: Any) -> None:
        case.call_and_validate(headers=dict(headers), checks=CHECKS)

    requests_conform()
