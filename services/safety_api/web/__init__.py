"""Server-rendered pages for site staff under ``/staff/``: alerts, subjects, eDISH, toxicity."""
