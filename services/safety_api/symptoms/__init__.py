"""Patient- and staff-reported symptom reports, graded per CTCAE v4.03."""
