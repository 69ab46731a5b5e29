"""Resolved instruments: what the API delivers and the scorer scores.

An ``Instrument`` is one or more questionnaires delivered together. A questionnaire file
becomes an instrument of one part; a composition (``eortc-net``) becomes an instrument
whose parts are the referenced questionnaires, so copyright and provenance stay with the
questionnaire they belong to.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.pro_api.instruments.schema import (
    Copyright,
    Item,
    LocalizedText,
    Provenance,
    Questionnaire,
    Scale,
    SummaryScore,
)


class UnknownInstrumentError(KeyError):
    """No instrument with that code in the catalog."""


@dataclass(frozen=True)
class Instrument:
    code: str
    name: LocalizedText
    parts: tuple[Questionnaire, ...]
    items: tuple[Item, ...] = field(init=False)
    scales: tuple[Scale, ...] = field(init=False)
    summary_scores: tuple[SummaryScore, ...] = field(init=False)
    _by_number: dict[int, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        items = tuple(item for part in self.parts for item in part.items)
        scales = tuple(scale for part in self.parts for scale in part.scales)
        summaries = tuple(summary for part in self.parts for summary in part.summary_scores)
        _ensure_unique(self.code, "item numbers", [item.number for item in items])
        _ensure_unique(
            self.code,
            "scale codes",
            [scale.code for scale in scales] + [summary.code for summary in summaries],
        )
        object.__setattr__(self, "items", tuple(sorted(items, key=lambda item: item.number)))
        object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "summary_scores", summaries)
        object.__setattr__(self, "_by_number", {item.number: item for item in items})

    @classmethod
    def of_questionnaire(cls, questionnaire: Questionnaire) -> Instrument:
        return cls(code=questionnaire.code, name=questionnaire.name, parts=(questionnaire,))

    def item(self, number: int) -> Item | None:
        return self._by_number.get(number)

    @property
    def item_numbers(self) -> tuple[int, ...]:
        return tuple(item.number for item in self.items)

    @property
    def copyright(self) -> dict[str, Copyright]:
        return {part.code: part.copyright for part in self.parts}

    @property
    def provenance(self) -> dict[str, Provenance]:
        return {part.code: part.provenance for part in self.parts}

    @property
    def fully_verified(self) -> bool:
        """True only if every part of every questionnaire was confirmed against a source."""
        return all(all(part.provenance.verified.model_dump().values()) for part in self.parts)


def _ensure_unique(code: str, what: str, values: Sequence[int | str]) -> None:
    duplicated = sorted(str(value) for value, count in Counter(values).items() if count > 1)
    if duplicated:
        raise ValueError(f"{code}: parts share {what} {duplicated}; each must be unique")


@dataclass(frozen=True)
class InstrumentCatalog:
    instruments: dict[str, Instrument]
    # Where each instrument's definition came from, for the admin/health view.
    sources: dict[str, Path]

    def get(self, code: str) -> Instrument:
        try:
            return self.instruments[code]
        except KeyError:
            raise UnknownInstrumentError(
                f"no instrument {code!r}; available: {sorted(self.instruments)}"
            ) from None

    def __contains__(self, code: object) -> bool:
        return code in self.instruments

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self.instruments[code] for code in sorted(self.instruments))

    def __len__(self) -> int:
        return len(self.instruments)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(sorted(self.instruments))
