"""Outcome reports: participants with toxicities by term and worst CTCAE grade."""
