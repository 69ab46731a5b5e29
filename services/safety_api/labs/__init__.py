"""Lab results: ingestion as JSON and as FHIR R4 Observations, graded per CTCAE v4.03."""
