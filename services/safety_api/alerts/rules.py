"""Hepatic-toxicity alert rules: plain functions over plain values.

``evaluate`` is called every time a lab or symptom report for a subject is stored. It is given
the observations just stored (``new_observations``) and the subject's earlier ones
(``history``; the caller loads e.g. the last 130 days, enough for the 120-day REILD window and
the pairing windows) and returns at most one ``AlertSignal`` per rule.

Conventions, in one place:

- **Only new observations raise signals.** Every signal has at least one new observation as its
  cause; history only supplies pairing partners (the bilirubin that makes a new ALT a potential
  Hy's law case, the low neutrophil count that makes a new fever febrile neutropenia, the ALP
  that labels a case cholestatic). Re-evaluating history alone therefore raises nothing; when
  the second half of a pair arrives later, the signal is raised then. History should cover the
  longest window around the new observations' own dates (a late-entered lab may be old).
- **"Within N days" counts calendar days in the subject's local time zone, both ends
  included**, the way protocol visit windows are counted: an ALT collected on 1 March and a
  bilirubin on 8 March are 7 days apart and pair under a 7-day window whatever the clock time;
  on 11 March (10 days) they do not.
- **REILD day 0 is the TARE date**; the watch runs from day 0 through day 120 inclusive
  (day 121 is outside). Observations before a TARE date are not in that TARE's window.
- Thresholds are compared as ``Decimal``; ``x_uln`` is the result divided by the upper limit of
  normal as graded by the CTCAE engine (this module never grades).
- Evidence items are JSON-ready dicts: decimals as strings (exact), times as ISO 8601 with
  offset. Summaries name the study subject ID only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .policy import HEPATIC_ANALYTES, SEVERITY_RANK, AlertPolicy, Severity

RuleCode = Literal[
    "hepatic_grade",
    "hys_law",
    "reild_watch",
    "worsening",
    "hepatic_warning_signs",
    "systemic_grade",
    "febrile_neutropenia",
]
RULE_CODES: tuple[RuleCode, ...] = (
    "hepatic_grade",
    "hys_law",
    "reild_watch",
    "worsening",
    "hepatic_warning_signs",
    "systemic_grade",
    "febrile_neutropenia",
)

AMINOTRANSFERASES = ("ALT", "AST")
BILIRUBIN = "BILI"
ALKALINE_PHOSPHATASE = "ALP"
NEUTROPHILS = "NEUT"

X_ULN = "\N{MULTIPLICATION SIGN}ULN"

ANALYTE_NAMES: Mapping[str, str] = {
    "ALT": "ALT",
    "AST": "AST",
    "ALP": "alkaline phosphatase (ALP)",
    "GGT": "GGT",
    "BILI": "total bilirubin",
    "ALB": "albumin",
    "INR": "INR",
    "NEUT": "neutrophil count (ANC)",
}

WARNING_SIGNS: Mapping[str, str] = {
    "yellow_eyes_or_skin": "yellow eyes or skin",
    "abdominal_swelling": "abdominal swelling",
    "confusion": "confusion",
}
# Jaundice and new ascites are the clinical picture of REILD (Sangro 2008; Braat 2017);
# confusion (encephalopathy) is a warning sign but not part of that definition.
REILD_SIGNS = ("yellow_eyes_or_skin", "abdominal_swelling")
_REILD_LABEL_TEXT: Mapping[str, str] = {
    "raised_bilirubin": "raised bilirubin",
    "reported_jaundice_or_swelling": "reported jaundice or abdominal swelling",
}


# --------------------------------------------------------------------------------------------
# Inputs


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, e.g. 2025-03-01T08:00:00+00:00")


@dataclass(frozen=True, kw_only=True)
class LabObservation:
    """One graded lab result. ``analyte`` uses the codes of DOMAIN.md §2 (ALT, AST, ALP, GGT,
    BILI, ALB, INR, NEUT, PLT, ...)."""

    observation_id: str
    analyte: str
    collected_at: datetime
    grade: int | None = None
    x_uln: Decimal | None = None
    value_per_mm3: Decimal | None = None
    term: str = ""
    meddra_code: str = ""

    def __post_init__(self) -> None:
        _require_aware(self.collected_at, "collected_at")

    @property
    def observed_at(self) -> datetime:
        return self.collected_at


class GradedTerm(NamedTuple):
    term: str
    meddra_code: str
    grade: int


@dataclass(frozen=True, kw_only=True)
class SymptomObservation:
    """One patient (or staff) symptom report. ``None`` means not reported."""

    observation_id: str
    reported_at: datetime
    temperature_c: Decimal | None = None
    yellow_eyes_or_skin: bool | None = None
    abdominal_swelling: bool | None = None
    confusion: bool | None = None
    graded: Sequence[tuple[str, str, int]] = ()

    def __post_init__(self) -> None:
        _require_aware(self.reported_at, "reported_at")
        object.__setattr__(self, "graded", tuple(GradedTerm(*g) for g in self.graded))

    @property
    def observed_at(self) -> datetime:
        return self.reported_at

    def signs_present(self, signs: Iterable[str]) -> list[str]:
        return [sign for sign in signs if getattr(self, sign) is True]


Observation = LabObservation | SymptomObservation


@dataclass(frozen=True, kw_only=True)
class SubjectContext:
    subject_id: str
    site_id: str
    tare_dates: Sequence[date] = ()
    baseline_grades: Mapping[str, int] = field(default_factory=dict)
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"timezone {self.timezone!r} is not an IANA time zone, e.g. America/New_York"
            ) from exc
        object.__setattr__(self, "tare_dates", tuple(sorted(self.tare_dates)))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def days_apart(self, a: Observation, b: Observation) -> int:
        """Whole calendar days between two observations in the subject's local time."""
        return abs((self.local_date(a.observed_at) - self.local_date(b.observed_at)).days)


# --------------------------------------------------------------------------------------------
# Output


@dataclass(frozen=True)
class AlertSignal:
    rule: RuleCode
    severity: Severity
    summary: str
    evidence: list[dict[str, Any]]
    labels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HysLawSignal:
    """One potential Hy's law pair (FDA DILI guidance, 2009) and what ALP says about it."""

    aminotransferase: LabObservation
    bilirubin: LabObservation
    alp: LabObservation | None
    days_apart: int
    cholestatic: bool

    @property
    def alp_unknown(self) -> bool:
        return self.alp is None


# --------------------------------------------------------------------------------------------
# Evidence and wording


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


def lab_evidence(obs: LabObservation, role: str, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "observation_id": obs.observation_id,
        "kind": "lab",
        "role": role,
        "analyte": obs.analyte,
        "term": obs.term,
        "meddra_code": obs.meddra_code,
        "grade": obs.grade,
        "x_uln": None if obs.x_uln is None else str(obs.x_uln),
        "value_per_mm3": None if obs.value_per_mm3 is None else str(obs.value_per_mm3),
        "collected_at": obs.collected_at.isoformat(),
    }
    item.update(extra)
    return item


def symptom_evidence(
    obs: SymptomObservation, role: str, finding: str, **extra: Any
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "observation_id": obs.observation_id,
        "kind": "symptom",
        "role": role,
        "finding": finding,
        "reported_at": obs.reported_at.isoformat(),
    }
    item.update(extra)
    return item


def evidence_key(item: Mapping[str, Any]) -> tuple[str, str, str]:
    """Identity of an evidence item, so the same finding is never appended twice."""
    return (
        str(item.get("kind", "")),
        str(item.get("observation_id", "")),
        str(item.get("analyte") or item.get("finding") or ""),
    )


def _unique(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str, str]] = set()
    out: list[dict[str, Any]] = []
    for item in items:
        key = evidence_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _describe_lab(obs: LabObservation, subject: SubjectContext) -> str:
    name = ANALYTE_NAMES.get(obs.analyte, obs.term or obs.analyte)
    parts = [name]
    if obs.analyte == NEUTROPHILS and obs.value_per_mm3 is not None:
        parts.append(f"{_fmt(obs.value_per_mm3)}/mm³")
    elif obs.x_uln is not None:
        parts.append(f"{_fmt(obs.x_uln)}{X_ULN}")
    if obs.grade is not None:
        parts.append(f"(grade {obs.grade})")
    parts.append(f"collected {subject.local_date(obs.collected_at).isoformat()}")
    return " ".join(parts)


# A summary names at most this many observations; the evidence list carries all of them.
SUMMARY_MAX_PHRASES = 4


def _join(phrases: Sequence[str]) -> str:
    if len(phrases) > SUMMARY_MAX_PHRASES:
        shown = list(phrases[:SUMMARY_MAX_PHRASES])
        more = len(phrases) - len(shown)
        return ", ".join(shown) + f" and {more} more (see the evidence)"
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _graded_severity(grade: int, severity: Severity, critical_from_grade: int | None) -> Severity:
    if critical_from_grade is not None and grade >= critical_from_grade:
        return "critical"
    return severity


# --------------------------------------------------------------------------------------------
# Rules. Each takes the policy, the subject, the new observations and all observations (new
# and history, deduplicated, oldest first) and returns one signal or None.


@dataclass(frozen=True)
class _Observations:
    new: tuple[Observation, ...]
    all: tuple[Observation, ...]
    new_ids: frozenset[str]

    def is_new(self, obs: Observation) -> bool:
        return obs.observation_id in self.new_ids

    def labs(self, *, new_only: bool = False) -> list[LabObservation]:
        source = self.new if new_only else self.all
        return [o for o in source if isinstance(o, LabObservation)]

    def symptoms(self, *, new_only: bool = False) -> list[SymptomObservation]:
        source = self.new if new_only else self.all
        return [o for o in source if isinstance(o, SymptomObservation)]


RuleFn = Callable[[AlertPolicy, SubjectContext, _Observations], AlertSignal | None]


def hepatic_grade_signal(
    policy: AlertPolicy, subject: SubjectContext, obs: _Observations
) -> AlertSignal | None:
    """Hepatic lab at CTCAE v4.03 grade >= 3 (high); grade 4 critical."""
    rule = policy.rules.hepatic_grade
    hits = [
        o
        for o in obs.labs(new_only=True)
        if o.analyte in rule.analytes and o.grade is not None and o.grade >= rule.min_grade
    ]
    if not hits:
        return None
    worst = max(o.grade or 0 for o in hits)
    return AlertSignal(
        rule="hepatic_grade",
        severity=_graded_severity(worst, rule.severity, rule.critical_from_grade),
        summary=(
            f"Subject {subject.subject_id}: grade {worst} liver test result — "
            f"{_join([_describe_lab(o, subject) for o in hits])}."
        ),
        evidence=_unique(lab_evidence(o, "graded_result") for o in hits),
    )


def hys_law_pairs(
    policy: AlertPolicy, subject: SubjectContext, obs: _Observations
) -> list[HysLawSignal]:
    """Every ALT/AST >= 3xULN + bilirubin > 2xULN pair within the pairing window that
    involves at least one new observation (FDA DILI guidance, 2009)."""
    rule = policy.rules.hys_law
    labs = obs.labs()
    aminotransferases = [
        o
        for o in labs
        if o.analyte in AMINOTRANSFERASES
        and o.x_uln is not None
        and o.x_uln >= rule.aminotransferase_x_uln_at_least
    ]
    bilirubins = [
        o
        for o in labs
        if o.analyte == BILIRUBIN and o.x_uln is not None and o.x_uln > rule.bilirubin_x_uln_above
    ]
    alps = [o for o in labs if o.analyte == ALKALINE_PHOSPHATASE and o.x_uln is not None]
    pairs: list[HysLawSignal] = []
    for amino in aminotransferases:
        for bili in bilirubins:
            if not (obs.is_new(amino) or obs.is_new(bili)):
                continue
            gap = subject.days_apart(amino, bili)
            if gap > rule.pairing_days:
                continue
            alp = _alp_at_injury(amino, alps, subject, rule.pairing_days)
            pairs.append(
                HysLawSignal(
                    aminotransferase=amino,
                    bilirubin=bili,
                    alp=alp,
                    days_apart=gap,
                    cholestatic=(
                        alp is not None
                        and alp.x_uln is not None
                        and alp.x_uln >= rule.cholestatic_alp_x_uln_at_least
                    ),
                )
            )
    return pairs


def _alp_at_injury(
    amino: LabObservation,
    alps: Sequence[LabObservation],
    subject: SubjectContext,
    window_days: int,
) -> LabObservation | None:
    """The ALP closest in time to the aminotransferase rise, within the pairing window.

    The guidance excludes cases with *initial* cholestasis, i.e. ALP raised when the
    aminotransferases rose, so ALP is judged next to the ALT/AST result of the pair.
    """
    candidates = [a for a in alps if subject.days_apart(a, amino) <= window_days]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda a: (abs(a.collected_at - amino.collected_at), -(a.x_uln or Decimal(0))),
    )


def hys_law_signal(
    policy: AlertPolicy, subject: SubjectContext, obs: _Observations
) -> AlertSignal | None:
    """Potential Hy's law: critical; cholestatic (ALP >= 2xULN) high and labelled;
    ALP unknown still alerts and says so (DOMAIN.md §4)."""
    rule = policy.rules.hys_law
    pairs = hys_law_pairs(policy, subject, obs)
    if not pairs:
        return None

    def severity(pair: HysLawSignal) -> Severity:
        return rule.cholestatic_severity if pair.cholestatic else rule.severity

    def rank(pair: HysLawSignal) -> tuple[int, int, int, Decimal, Decimal]:
        return (
            -SEVERITY_RANK[severity(pair)],
            pair.alp_unknown,  # a measured ALP below 2xULN makes the stronger case
            pair.days_apart,
            -(pair.aminotransferase.x_uln or Decimal(0)),
            -(pair.bilirubin.x_uln or Decimal(0)),
        )

    lead = min(pairs, key=rank)
    labels: list[str] = []
    if lead.cholestatic:
        labels.append("cholestatic")
    if lead.alp_unknown:
        labels.append("alp_unknown")

    evidence: list[dict[str, Any]] = []
    for pair in sorted(pairs, key=rank):
        evidence.append(lab_evidence(pair.aminotransferase, "aminotransferase"))
        evidence.append(lab_evidence(pair.bilirubin, "bilirubin"))
        if pair.alp is not None:
            evidence.append(lab_evidence(pair.alp, "alkaline_phosphatase"))

    amino, bili = lead.aminotransferase, lead.bilirubin
    gap = {0: "the same day", 1: "1 day apart"}.get(
        lead.days_apart, f"{lead.days_apart} days apart"
    )
    if lead.alp is None:
        alp_text = (
            f"ALP not measured within {rule.pairing_days} days of the {amino.analyte}: "
            "cholestasis cannot be excluded."
        )
    elif lead.cholestatic:
        alp_text = (
            f"ALP {_fmt(lead.alp.x_uln or Decimal(0))}{X_ULN} "
            f"(≥ {_fmt(rule.cholestatic_alp_x_uln_at_least)}{X_ULN}): cholestatic pattern, "
            "so not a classic Hy's law case."
        )
    else:
        alp_text = f"ALP {_fmt(lead.alp.x_uln or Decimal(0))}{X_ULN}: no cholestatic pattern."
    return AlertSignal(
        rule="hys_law",
        severity=severity(lead),
        summary=(
            f"Subject {subject.subject_id}: potential Hy's law — {_describe_lab(amino, subject)} "
            f"with {_describe_lab(bili, subject)}, {gap}. {alp_text}"
        ),
        evidence=_unique(evidence),
        labels=labels,
    )


def _day_after_tare(
    subject: SubjectContext, moment: datetime, window_days: int
) -> tuple[date, int] | None:
    """(TARE date, day number) of the latest TARE whose window holds this moment; day 0 is the
    TARE date itself."""
    local = subject.local_date(moment)
    for tare in sorted(subject.tare_dates, reverse=True):
        day = (local - tare).days
        if 0 <= day <= window_days:
            return tare, day
    return None


def reild_watch_signal(
    policy: AlertPolicy, subject: SubjectContext, obs: _Observations
) -> AlertSignal | None:
    """REILD watch (Sangro 2008; Braat 2017): after any TARE, bilirubin > 2xULN or reported
    jaundice/abdominal swelling is high; both within ``combine_within_days`` is critical."""
    rule = policy.rules.reild_watch
    if not subject.tare_dates:
        return None

    # (TARE date, day after TARE) of every observation in a REILD window.
    windows: dict[str, tuple[date, int]] = {}
    for o in obs.all:
        found = _day_after_tare(subject, o.observed_at, rule.window_days)
        if found is not None:
            windows[o.observation_id] = found
    bilirubins: list[Observation] = [
        o
        for o in obs.labs()
        if o.observation_id in windows
        and o.analyte == BILIRUBIN
        and o.x_uln is not None
        and o.x_uln > rule.bilirubin_x_uln_above
    ]
    reports: list[Observation] = [
        o for o in obs.symptoms() if o.observation_id in windows and o.signs_present(REILD_SIGNS)
    ]
    new_bilirubins = [o for o in bilirubins if obs.is_new(o)]
    new_reports = [o for o in reports if obs.is_new(o)]
    if not new_bilirubins and not new_reports:
        return None

    def near(a: Observation, others: Sequence[Observation]) -> list[Observation]:
        return [b for b in others if subject.days_apart(a, b) <= rule.combine_within_days]

    partners = [p for b in new_bilirubins for p in near(b, reports)]
    partners += [p for r in new_reports for p in near(r, bilirubins)]
    combined = bool(partners)
    involved = {o.observation_id: o for o in [*new_bilirubins, *new_reports, *partners]}

    evidence: list[dict[str, Any]] = []
    phrases: list[str] = []
    for o in _chronological(involved.values()):
        tare, day = windows[o.observation_id]
        where = {"tare_date": tare.isoformat(), "day_after_tare": day}
        when = f"(day {day} after TARE {tare.isoformat()})"
        role = "trigger" if obs.is_new(o) else "partner"
        if isinstance(o, LabObservation):
            evidence.append(lab_evidence(o, role, **where))
            phrases.append(f"{_describe_lab(o, subject)} {when}")
        else:
            signs = o.signs_present(REILD_SIGNS)
            evidence.extend(symptom_evidence(o, role, sign, value=True, **where) for sign in signs)
            phrases.append(
                f"reported {_join([WARNING_SIGNS[s] for s in signs])} on "
                f"{subject.local_date(o.reported_at).isoformat()} {when}"
            )

    labels: list[str] = []
    if any(isinstance(o, LabObservation) for o in involved.values()):
        labels.append("raised_bilirubin")
    if any(isinstance(o, SymptomObservation) for o in involved.values()):
        labels.append("reported_jaundice_or_swelling")
    labels_text = [_REILD_LABEL_TEXT[label] for label in labels]
    return AlertSignal(
        rule="reild_watch",
        severity=rule.combined_severity if combined else rule.severity,
        summary=(
            f"Subject {subject.subject_id}: REILD watch (liver disease after radioembolization), "
            f"{_join(labels_text)} — {_join(phrases)}."
        ),
        evidence=_unique(evidence),
        labels=labels,
    )


def worsening_signal(
    policy: AlertPolicy, subject: SubjectContext, obs: _Observations
) -> AlertSignal | None:
    """A hepatic lab >= 2 CTCAE grades above the subject's baseline grade (DOMAIN.md §4)."""
    rule = policy.rules.worsening
    hits: list[tuple[LabObservation, int, bool]] = []
    for o in obs.labs(new_only=True):
        if o.analyte not in rule.analytes or o.grade is None:
            continue
        baseline = subject.baseline_grades.get(o.analyte)
        assumed = baseline is None
        if baseline is None:
            if rule.missing_baseline == "skip":
                continue
            baseline = 0
        if o.grade - baseline >= rule.grades_above_baseline:
            hits.append((o, baseline, assumed))
    if not hits:
        return None
    phrases = [
        f"{_describe_lab(o, subject)}, baseline grade {baseline}"
        + (" (assumed: no baseline recorded)" if assumed else "")
        for o, baseline, assumed in hits
    ]
    return AlertSignal(
        rule="worsening",
        severity=rule.severity,
        summary=(
            f"Subject {subject.subject_id}: liver test worse than baseline by "
            f"{rule.grades_above_baseline} or more grades — {_join(phrases)}."
        ),
        evidence=_unique(
            lab_evidence(o, "graded_result", baseline_grade=baseline, baseline_assumed=assumed)
            for o, baseline, assumed in hits
        ),
        labels=["baseline_assumed_grade_0"] if any(a for _, _, a in hits) else [],
    )


def hepatic_warning_signs_signal(
    policy: AlertPolicy, subject: SubjectContext, obs: _Observations
) -> AlertSignal | None:
    """Patient-reported yellow eyes/skin, abdominal swelling or confusion (DOMAIN.md §3)."""
    rule = policy.rules.hepatic_warning_signs
    reports = [o for o in obs.symptoms(new_only=True) if o.signs_present(WARNING_SIGNS)]
    if not reports:
        return None
    phrases = [
        f"{_join([WARNING_SIGNS[s] for s in o.signs_present(WARNING_SIGNS)])} "
        f"on {subject.local_date(o.reported_at).isoformat()}"
        for o in reports
    ]
    return AlertSignal(
        rule="hepatic_warning_signs",
        severity=rule.severity,
        summary=(
            f"Subject {subject.subject_id} reported warning signs of liver problems: "
            f"{_join(phrases)}."
        ),
        evidence=_unique(
            symptom_evidence(o, "trigger", sign, value=True)
            for o in reports
            for sign in o.signs_present(WARNING_SIGNS)
        ),
        labels=["patient_reported"],
    )


def systemic_grade_signal(
    policy: AlertPolicy, subject: SubjectContext, obs: _Observations
) -> AlertSignal | None:
    """Any non-hepatic CTCAE term at grade >= 3, lab or patient-reported (Basch 2016/2017;
    PRO-TECT alert nurses on severe symptoms)."""
    rule = policy.rules.systemic_grade
    evidence: list[dict[str, Any]] = []
    phrases: list[str] = []
    grades: list[int] = []
    for o in obs.new:
        if isinstance(o, LabObservation):
            if o.analyte in HEPATIC_ANALYTES or o.grade is None or o.grade < rule.min_grade:
                continue
            evidence.append(lab_evidence(o, "graded_result"))
            phrases.append(_describe_lab(o, subject))
            grades.append(o.grade)
        else:
            for g in o.graded:
                term, meddra_code, grade = g
                if grade < rule.min_grade:
                    continue
                evidence.append(
                    symptom_evidence(
                        o, "graded_result", term, term=term, meddra_code=meddra_code, grade=grade
                    )
                )
                phrases.append(
                    f"{term} (patient-reported grade {grade}) on "
                    f"{subject.local_date(o.reported_at).isoformat()}"
                )
                grades.append(grade)
    if not grades:
        return None
    worst = max(grades)
    return AlertSignal(
        rule="systemic_grade",
        severity=_graded_severity(worst, rule.severity, rule.critical_from_grade),
        summary=f"Subject {subject.subject_id}: grade {worst} toxicity — {_join(phrases)}.",
        evidence=_unique(evidence),
        labels=(["patient_reported"] if any(e["kind"] == "symptom" for e in evidence) else []),
    )


def febrile_neutropenia_signal(
    policy: AlertPolicy, subject: SubjectContext, obs: _Observations
) -> AlertSignal | None:
    """CTCAE v4.03 Febrile neutropenia: ANC < 1000/mm³ and a temperature >= 38.3 °C reported
    within 3 days of the count, before or after it."""
    rule = policy.rules.febrile_neutropenia
    low_counts = [
        o
        for o in obs.labs()
        if o.analyte == NEUTROPHILS
        and o.value_per_mm3 is not None
        and o.value_per_mm3 < rule.anc_per_mm3_below
    ]
    fevers = [
        o
        for o in obs.symptoms()
        if o.temperature_c is not None and o.temperature_c >= rule.temperature_c_at_least
    ]
    pairs = [
        (count, fever)
        for count in low_counts
        for fever in fevers
        if (obs.is_new(count) or obs.is_new(fever))
        and subject.days_apart(count, fever) <= rule.within_days
    ]
    if not pairs:
        return None
    count, fever = min(
        pairs,
        key=lambda p: (subject.days_apart(*p), p[0].value_per_mm3, -(p[1].temperature_c or 0)),
    )
    evidence: list[dict[str, Any]] = []
    for c, f in pairs:
        evidence.append(lab_evidence(c, "neutrophil_count"))
        evidence.append(
            symptom_evidence(f, "temperature", "temperature_c", value=str(f.temperature_c))
        )
    return AlertSignal(
        rule="febrile_neutropenia",
        severity=rule.severity,
        summary=(
            f"Subject {subject.subject_id}: possible febrile neutropenia — temperature "
            f"{_fmt(fever.temperature_c or Decimal(0))} °C reported "
            f"{subject.local_date(fever.reported_at).isoformat()} with "
            f"{_describe_lab(count, subject)}."
        ),
        evidence=_unique(evidence),
    )


RULES: Mapping[RuleCode, RuleFn] = {
    "hepatic_grade": hepatic_grade_signal,
    "hys_law": hys_law_signal,
    "reild_watch": reild_watch_signal,
    "worsening": worsening_signal,
    "hepatic_warning_signs": hepatic_warning_signs_signal,
    "systemic_grade": systemic_grade_signal,
    "febrile_neutropenia": febrile_neutropenia_signal,
}


def _chronological(observations: Iterable[Observation]) -> list[Observation]:
    return sorted(observations, key=lambda o: (o.observed_at, o.observation_id))


def evaluate(
    policy: AlertPolicy,
    subject: SubjectContext,
    new_observations: Sequence[Observation],
    history: Sequence[Observation] = (),
) -> list[AlertSignal]:
    """Signals raised by ``new_observations`` for one subject, at most one per rule, in
    ``RULE_CODES`` order. ``history`` only provides pairing partners (module docstring)."""
    new_by_id = {o.observation_id: o for o in new_observations}
    earlier = {o.observation_id: o for o in history if o.observation_id not in new_by_id}
    obs = _Observations(
        new=tuple(_chronological(new_by_id.values())),
        all=tuple(_chronological([*new_by_id.values(), *earlier.values()])),
        new_ids=frozenset(new_by_id),
    )
    signals: list[AlertSignal] = []
    for code in RULE_CODES:
        if not getattr(policy.rules, code).enabled:
            continue
        signal = RULES[code](policy, subject, obs)
        if signal is not None:
            signals.append(signal)
    return signals


# --------------------------------------------------------------------------------------------
# Lifecycle: one open alert per subject and rule. The database layer stores the alert; these
# functions decide what happens to it.

AlertAction = Literal["create", "append_evidence", "escalate_severity", "no_change"]
WebhookEvent = Literal["alert.created", "alert.updated", "alert.escalated"]


@dataclass(frozen=True, kw_only=True)
class OpenAlertState:
    """The subject's unresolved alert for one rule, as stored.

    ``severity_changed_at`` is when the severity last rose (None: unchanged since creation);
    ``escalated_severity`` is the severity at which a missed-deadline escalation was last
    emitted (None: never escalated).
    """

    alert_id: str
    rule: RuleCode
    severity: Severity
    status: Literal["open", "acknowledged"]
    created_at: datetime
    severity_changed_at: datetime | None = None
    escalated_severity: Severity | None = None
    evidence: Sequence[Mapping[str, Any]] = ()
    labels: Sequence[str] = ()

    def __post_init__(self) -> None:
        _require_aware(self.created_at, "created_at")
        if self.severity_changed_at is not None:
            _require_aware(self.severity_changed_at, "severity_changed_at")


@dataclass(frozen=True)
class AlertDecision:
    """What to do with the stored alert.

    ``notify``: tell site staff now; the caller records the severity change time, which
    restarts the acknowledgement deadline, and sets ``status`` (a worse severity needs a new
    acknowledgement, so an acknowledged alert becomes open again).
    """

    action: AlertAction
    severity: Severity
    status: Literal["open", "acknowledged"]
    evidence_to_append: list[dict[str, Any]]
    labels_to_add: list[str]
    summary: str | None
    event: WebhookEvent | None
    notify: bool


def merge_signal(open_alert: OpenAlertState | None, signal: AlertSignal) -> AlertDecision:
    """Decide how a new signal changes the subject's open alert for the same rule.

    Severity never falls: a milder signal only adds its evidence.
    """
    if open_alert is None:
        return AlertDecision(
            action="create",
            severity=signal.severity,
            status="open",
            evidence_to_append=_unique(signal.evidence),
            labels_to_add=list(dict.fromkeys(signal.labels)),
            summary=signal.summary,
            event="alert.created",
            notify=True,
        )
    if open_alert.rule != signal.rule:
        raise ValueError(
            f"signal for rule {signal.rule!r} cannot merge into alert {open_alert.alert_id} "
            f"of rule {open_alert.rule!r}"
        )
    known = {evidence_key(e) for e in open_alert.evidence}
    fresh = [e for e in _unique(signal.evidence) if evidence_key(e) not in known]
    new_labels = [label for label in dict.fromkeys(signal.labels) if label not in open_alert.labels]
    if SEVERITY_RANK[signal.severity] > SEVERITY_RANK[open_alert.severity]:
        return AlertDecision(
            action="escalate_severity",
            severity=signal.severity,
            status="open",
            evidence_to_append=fresh,
            labels_to_add=new_labels,
            summary=signal.summary,
            event="alert.updated",
            notify=True,
        )
    if fresh or new_labels:
        return AlertDecision(
            action="append_evidence",
            severity=open_alert.severity,
            status=open_alert.status,
            evidence_to_append=fresh,
            labels_to_add=new_labels,
            summary=signal.summary,
            event="alert.updated",
            notify=False,
        )
    return AlertDecision(
        action="no_change",
        severity=open_alert.severity,
        status=open_alert.status,
        evidence_to_append=[],
        labels_to_add=[],
        summary=None,
        event=None,
        notify=False,
    )


def acknowledgement_deadline(alert_state: OpenAlertState, policy: AlertPolicy) -> datetime:
    """When the current severity must be acknowledged by: counted from creation, or from the
    last rise in severity (critical PT1H, high PT24H by default)."""
    start = alert_state.severity_changed_at or alert_state.created_at
    return start + policy.ack_deadlines.for_severity(alert_state.severity)


def escalation_due(alert_state: OpenAlertState, policy: AlertPolicy, now: datetime) -> bool:
    """True when an unacknowledged alert has passed its deadline and has not already been
    escalated at its current severity (the caller then emits ``alert.escalated`` and records
    ``escalated_severity``). Acknowledging exactly at the deadline is in time."""
    _require_aware(now, "now")
    if alert_state.status != "open":
        return False
    if alert_state.escalated_severity is not None and (
        SEVERITY_RANK[alert_state.escalated_severity] >= SEVERITY_RANK[alert_state.severity]
    ):
        return False
    return now > acknowledgement_deadline(alert_state, policy)


__all__ = [
    "RULES",
    "RULE_CODES",
    "AlertAction",
    "AlertDecision",
    "AlertSignal",
    "GradedTerm",
    "HysLawSignal",
    "LabObservation",
    "Observation",
    "OpenAlertState",
    "RuleCode",
    "SubjectContext",
    "SymptomObservation",
    "WebhookEvent",
    "acknowledgement_deadline",
    "escalation_due",
    "evaluate",
    "evidence_key",
    "merge_signal",
]
