"""The shape of an instrument definition file, validated when the catalog loads.

An instrument file is data: items, response options, scales, copyright and provenance. A
site with an EORTC licence replaces the shipped files with its licensed ones
(see ``loader.load_instruments``) without any code change, so everything the scorer needs
is here and every cross-reference is checked at load time, not when a patient submits.

Two kinds of file:

- ``"type": "questionnaire"`` - one questionnaire (QLQ-C30, QLQ-GINET21).
- ``"type": "composition"`` - a delivered form made of questionnaires by reference
  (``eortc-net`` = QLQ-C30 + QLQ-GINET21). Resolved by the loader into an ``Instrument``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

FALLBACK_LANGUAGE = "en"

# Lower-case, hyphenated instrument codes ("qlq-c30", "eortc-net") as used in URLs.
INSTRUMENT_CODE_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
# EORTC scale abbreviations are upper case ("PF2", "QL2", "C30SUMMARY").
SCALE_CODE_PATTERN = r"^[A-Z][A-Z0-9_]*$"

ScaleKind = Literal["functional", "symptom", "global"]


class _Strict(BaseModel):
    # extra="forbid": a misspelt key in a site's file is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalizedText(RootModel[dict[str, str]]):
    """Text per language tag (BCP 47, e.g. ``"en"``, ``"pt-BR"``); English is required."""

    model_config = ConfigDict(frozen=True)

    @field_validator("root")
    @classmethod
    def _english_present_and_nothing_blank(cls, value: dict[str, str]) -> dict[str, str]:
        if FALLBACK_LANGUAGE not in value:
            raise ValueError(f"needs an English ({FALLBACK_LANGUAGE!r}) text; has {sorted(value)}")
        blank = sorted(lang for lang, text in value.items() if not text.strip())
        if blank:
            raise ValueError(f"text is blank for language(s) {blank}")
        return value

    def text_for(self, lang: str | None) -> str:
        """The text in ``lang``; else its primary language (``pt-BR`` -> ``pt``); else English."""
        return text_for(self.root, lang)

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self.root)


def text_for(texts: dict[str, str], lang: str | None) -> str:
    if lang:
        if lang in texts:
            return texts[lang]
        primary = re.split(r"[-_]", lang, maxsplit=1)[0]
        if primary in texts:
            return texts[primary]
    return texts[FALLBACK_LANGUAGE]


class ResponseOption(_Strict):
    code: int
    label: LocalizedText


class ShowIf(_Strict):
    """Conditional display: show this item only if item ``item`` was answered with a code
    in ``in`` (e.g. "answer only if you were sexually active")."""

    # "in" is a Python keyword: the field is ``in_`` in code and "in" in JSON both ways.
    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    item: int
    in_: Annotated[list[int], Field(alias="in", min_length=1)]


class Item(_Strict):
    number: Annotated[int, Field(ge=1)]
    text: LocalizedText
    # In the file, either a list of options or the name of an entry in ``option_sets``;
    # the questionnaire expands names before this model is validated.
    options: Annotated[list[ResponseOption], Field(min_length=2)]
    # None when the item has no time frame (QLQ-C30 items 1-5).
    recall_period: LocalizedText | None = None
    show_if: ShowIf | None = None
    verified: bool = False

    @field_validator("options")
    @classmethod
    def _codes_unique(cls, options: list[ResponseOption]) -> list[ResponseOption]:
        codes = [option.code for option in options]
        if len(set(codes)) != len(codes):
            raise ValueError(f"response codes must be unique; got {codes}")
        return options

    @property
    def codes(self) -> tuple[int, ...]:
        return tuple(option.code for option in self.options)

    def text_for(self, lang: str | None) -> str:
        return self.text.text_for(lang)


class Scale(_Strict):
    code: Annotated[str, Field(pattern=SCALE_CODE_PATTERN)]
    name: LocalizedText
    items: Annotated[list[int], Field(min_length=1)]
    kind: ScaleKind
    # EORTC scoring manual: range = difference between the highest and lowest possible
    # response of the scale's items (3 for 1-4 items, 6 for 1-7 items). Checked at load.
    range: Annotated[int, Field(gt=0)]
    verified: bool = False

    @field_validator("items")
    @classmethod
    def _items_unique(cls, items: list[int]) -> list[int]:
        if len(set(items)) != len(items):
            raise ValueError(f"item numbers must be unique; got {items}")
        return items


class SummaryComponent(_Strict):
    scale: str
    # Symptom scales enter the C30 summary score as 100 - score (Giesinger 2016).
    reverse: bool = False


class SummaryScore(_Strict):
    """A score computed from scale scores: mean of the components, each reversed as needed.

    Computed only when every component has a score (Giesinger et al., J Clin Epidemiol
    2016;69:79-88, for the QLQ-C30 summary score)."""

    code: Annotated[str, Field(pattern=SCALE_CODE_PATTERN)]
    name: LocalizedText
    components: Annotated[list[SummaryComponent], Field(min_length=1)]
    source: str


class Copyright(_Strict):
    notice: str
    licence: str


class PartsVerified(_Strict):
    """Whether each part of the definition was confirmed against a source, and which."""

    items_text: bool
    response_options: bool
    recall_periods: bool
    scales: bool
    copyright_notice: bool


class Provenance(_Strict):
    source: str
    verified: PartsVerified
    checked_against: list[str] = []


class Questionnaire(_Strict):
    type: Literal["questionnaire"]
    code: Annotated[str, Field(pattern=INSTRUMENT_CODE_PATTERN)]
    name: LocalizedText
    version: str
    items: Annotated[list[Item], Field(min_length=1)]
    scales: list[Scale]
    summary_scores: list[SummaryScore] = []
    copyright: Copyright
    provenance: Provenance
    # Plain words on what is and is not verified; required when any part is unverified.
    verification: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _expand_option_sets(cls, data: Any) -> Any:
        """Items may name a shared option set (``"options": "four_point"``) instead of
        repeating the same four options 28 times; expand the names here."""
        if not isinstance(data, dict):
            return data
        option_sets = data.get("option_sets", {})
        if not isinstance(option_sets, dict):
            raise ValueError("option_sets: must be an object of name -> list of options")
        items = data.get("items")
        if isinstance(items, list):
            expanded = []
            for index, item in enumerate(items):
                if isinstance(item, dict) and isinstance(item.get("options"), str):
                    name = item["options"]
                    if name not in option_sets:
                        raise ValueError(
                            f"items[{index}].options: option set {name!r} is not defined in "
                            f"option_sets (defined: {sorted(option_sets)})"
                        )
                    item = {**item, "options": option_sets[name]}
                expanded.append(item)
            data = {**data, "items": expanded}
        return {key: value for key, value in data.items() if key != "option_sets"}

    @model_validator(mode="after")
    def _cross_references(self) -> Questionnaire:
        by_number = {item.number: item for item in self.items}
        if len(by_number) != len(self.items):
            numbers = [item.number for item in self.items]
            duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
            raise ValueError(f"items: item numbers must be unique; duplicated {duplicated}")
        for item in self.items:
            _check_show_if(item, by_number)
        scale_codes = [scale.code for scale in self.scales]
        for scale in self.scales:
            _check_scale(scale, by_number)
        for summary in self.summary_scores:
            if summary.code in scale_codes:
                raise ValueError(f"summary_scores[code={summary.code}].code: clashes with a scale")
            for component in summary.components:
                if component.scale not in scale_codes:
                    raise ValueError(
                        f"summary_scores[code={summary.code}].components: scale "
                        f"{component.scale!r} is not defined in scales"
                    )
        if len(set(scale_codes)) != len(scale_codes):
            raise ValueError(f"scales: scale codes must be unique; got {scale_codes}")
        self._check_verification_claims()
        return self

    def _check_verification_claims(self) -> None:
        # Never claim a part is verified while an element of it says otherwise.
        claims = self.provenance.verified
        if claims.items_text:
            unverified = [item.number for item in self.items if not item.verified]
            if unverified:
                raise ValueError(
                    "provenance.verified.items_text: is true but items "
                    f"{unverified} have verified: false"
                )
        if claims.scales:
            unverified_scales = [scale.code for scale in self.scales if not scale.verified]
            if unverified_scales:
                raise ValueError(
                    "provenance.verified.scales: is true but scales "
                    f"{unverified_scales} have verified: false"
                )
        all_verified = all(claims.model_dump().values())
        if not all_verified and not (self.verification or "").strip():
            raise ValueError(
                "verification: a plain-words note is required when any part of "
                "provenance.verified is false"
            )


def _check_show_if(item: Item, by_number: dict[int, Item]) -> None:
    if item.show_if is None:
        return
    target = by_number.get(item.show_if.item)
    if target is None or target.number >= item.number:
        raise ValueError(
            f"items[number={item.number}].show_if.item: must be an earlier item of this "
            f"questionnaire; got {item.show_if.item}"
        )
    unknown = sorted(set(item.show_if.in_) - set(target.codes))
    if unknown:
        raise ValueError(
            f"items[number={item.number}].show_if.in: codes {unknown} are not options of item "
            f"{target.number} (allowed: {list(target.codes)})"
        )


def _check_scale(scale: Scale, by_number: dict[int, Item]) -> None:
    missing = [n for n in scale.items if n not in by_number]
    if missing:
        raise ValueError(f"scales[code={scale.code}].items: items {missing} are not defined")
    codes = [code for n in scale.items for code in by_number[n].codes]
    expected_range = max(codes) - min(codes)
    if scale.range != expected_range:
        raise ValueError(
            f"scales[code={scale.code}].range: is {scale.range} but the items' response codes "
            f"span {min(codes)}..{max(codes)}, so the range must be {expected_range}"
        )


class Composition(_Strict):
    """A delivered form made of questionnaires, by reference (never a copy)."""

    type: Literal["composition"]
    code: Annotated[str, Field(pattern=INSTRUMENT_CODE_PATTERN)]
    name: LocalizedText
    parts: Annotated[list[str], Field(min_length=1)]
    description: str | None = None

    @field_validator("parts")
    @classmethod
    def _parts_unique(cls, parts: list[str]) -> list[str]:
        if len(set(parts)) != len(parts):
            raise ValueError(f"parts must be unique; got {parts}")
        return parts
