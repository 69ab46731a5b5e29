"""Instrument files: shipped content, validation at load, site override, languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.pro_api.instruments.catalog import UnknownInstrumentError
from services.pro_api.instruments.loader import (
    PACKAGE_DATA_DIR,
    InstrumentFileError,
    load_instruments,
)
from services.pro_api.instruments.schema import LocalizedText
from tests.pro_api.instruments.factories import (
    licensed_ginet21_replacement,
    questionnaire,
    shipped_file,
    write_json,
)


def _load_with(tmp_path: Path, name: str, data: Any) -> Any:
    write_json(tmp_path, name, data)
    return load_instruments(tmp_path)


# --- shipped definitions --------------------------------------------------------------


def test_shipped_catalog_has_c30_ginet21_and_the_composed_net_form() -> None:
    catalog = load_instruments()
    assert catalog.codes == ("eortc-net", "qlq-c30", "qlq-ginet21")
    net = catalog.get("eortc-net")
    assert net.item_numbers == tuple(range(1, 52))


def test_net_form_refers_to_the_c30_and_ginet21_definitions_not_copies() -> None:
    catalog = load_instruments()
    net = catalog.get("eortc-net")
    assert net.parts[0] is catalog.get("qlq-c30").parts[0]
    assert net.parts[1] is catalog.get("qlq-ginet21").parts[0]
    assert set(net.copyright) == {"qlq-c30", "qlq-ginet21"}


def test_c30_items_options_and_recall_periods() -> None:
    c30 = load_instruments().get("qlq-c30")
    assert c30.item_numbers == tuple(range(1, 31))
    for item in c30.items:
        if item.number <= 28:
            assert [o.label.text_for("en") for o in item.options] == [
                "Not at all",
                "A little",
                "Quite a bit",
                "Very much",
            ]
        else:
            assert item.codes == (1, 2, 3, 4, 5, 6, 7)
            assert item.options[0].label.text_for("en") == "Very poor"
            assert item.options[-1].label.text_for("en") == "Excellent"
        if item.number <= 5:
            assert item.recall_period is None
        else:
            assert item.recall_period is not None
            assert item.recall_period.text_for("en") == "during the past week"


def test_c30_scales_follow_the_scoring_manual() -> None:
    c30 = load_instruments().get("qlq-c30")
    scales = {scale.code: (scale.items, scale.kind, scale.range) for scale in c30.scales}
    assert scales == {
        "QL2": ([29, 30], "global", 6),
        "PF2": ([1, 2, 3, 4, 5], "functional", 3),
        "RF2": ([6, 7], "functional", 3),
        "EF": ([21, 22, 23, 24], "functional", 3),
        "CF": ([20, 25], "functional", 3),
        "SF": ([26, 27], "functional", 3),
        "FA": ([10, 12, 18], "symptom", 3),
        "NV": ([14, 15], "symptom", 3),
        "PA": ([9, 19], "symptom", 3),
        "DY": ([8], "symptom", 3),
        "SL": ([11], "symptom", 3),
        "AP": ([13], "symptom", 3),
        "CO": ([16], "symptom", 3),
        "DI": ([17], "symptom", 3),
        "FI": ([28], "symptom", 3),
    }


def test_c30_carries_the_eortc_copyright_notice_and_licence_note() -> None:
    copyright_ = load_instruments().get("qlq-c30").copyright["qlq-c30"]
    assert copyright_.notice == (
        "© Copyright 1995 EORTC Quality of Life Group. All rights reserved. Version 3.0"
    )
    assert "permission" in copyright_.licence


def test_shipped_ginet21_says_plainly_that_it_is_not_verified() -> None:
    ginet = load_instruments().get("qlq-ginet21")
    part = ginet.parts[0]
    assert ginet.item_numbers == tuple(range(31, 52))
    assert all(item.codes == (1, 2, 3, 4) for item in ginet.items)
    assert all(scale.kind == "symptom" for scale in ginet.scales)
    assert not any(item.verified for item in ginet.items)
    assert not any(scale.verified for scale in ginet.scales)
    assert not part.provenance.verified.items_text
    assert not part.provenance.verified.scales
    assert part.verification is not None
    assert "NOT VERIFIED" in part.verification
    assert "CAPTEM_INSTRUMENTS_DIR" in part.verification
    assert not ginet.fully_verified


def test_unknown_instrument_code_names_the_available_ones() -> None:
    with pytest.raises(UnknownInstrumentError, match="qlq-c30"):
        load_instruments().get("qlq-c99")


# --- site override directory ----------------------------------------------------------


def test_site_directory_replaces_the_shipped_ginet21_and_the_net_form_uses_it(
    tmp_path: Path,
) -> None:
    path = write_json(tmp_path, "site-ginet21.json", licensed_ginet21_replacement())
    catalog = load_instruments(tmp_path)
    ginet = catalog.get("qlq-ginet21")
    assert ginet.fully_verified
    item_31 = ginet.item(31)
    assert item_31 is not None
    assert item_31.text_for("en") == "Licensed wording of item 31?"
    assert catalog.get("eortc-net").parts[1] is ginet.parts[0]
    assert catalog.sources["qlq-ginet21"] == path
    assert catalog.sources["qlq-c30"] == PACKAGE_DATA_DIR / "qlq-c30.json"


def test_site_directory_may_add_a_new_instrument(tmp_path: Path) -> None:
    catalog = _load_with(tmp_path, "extra.json", questionnaire("site-extra"))
    assert "site-extra" in catalog
    assert "qlq-c30" in catalog


def test_missing_site_directory_is_an_error_not_a_silent_fallback(tmp_path: Path) -> None:
    with pytest.raises(InstrumentFileError, match="does not exist"):
        load_instruments(tmp_path / "nope")


def test_two_site_files_with_the_same_code_are_refused(tmp_path: Path) -> None:
    write_json(tmp_path, "a.json", questionnaire("dup"))
    write_json(tmp_path, "b.json", questionnaire("dup"))
    with pytest.raises(
        InstrumentFileError, match=r"b\.json: code: 'dup' is already defined by a\.json"
    ):
        load_instruments(tmp_path)


# --- broken files fail loudly, naming file and field ----------------------------------


def test_wrong_response_code_type_names_file_item_and_field(tmp_path: Path) -> None:
    data = licensed_ginet21_replacement()
    data["items"][2]["options"] = [
        {"code": "one", "label": {"en": "x"}},
        {"code": 2, "label": {"en": "y"}},
    ]
    with pytest.raises(InstrumentFileError) as raised:
        _load_with(tmp_path, "qlq-ginet21.json", data)
    message = str(raised.value)
    assert "qlq-ginet21.json" in message
    assert "items[2] (item 33).options[0].code" in message


def test_item_text_without_english_is_refused(tmp_path: Path) -> None:
    data = questionnaire()
    data["items"][0]["text"] = {"de": "Frage?"}
    with pytest.raises(InstrumentFileError, match=r"items\[0\] \(item 1\)\.text: .*English"):
        _load_with(tmp_path, "q.json", data)


def test_scale_referring_to_an_undefined_item_is_refused(tmp_path: Path) -> None:
    data = questionnaire()
    data["scales"][0]["items"] = [1, 9]
    with pytest.raises(InstrumentFileError, match=r"scales\[code=AB\]\.items: items \[9\]"):
        _load_with(tmp_path, "q.json", data)


def test_scale_range_must_match_the_items_response_codes(tmp_path: Path) -> None:
    data = questionnaire()
    data["scales"][0]["range"] = 6
    with pytest.raises(InstrumentFileError, match=r"scales\[code=AB\]\.range: .*must be 3"):
        _load_with(tmp_path, "q.json", data)


def test_unknown_scale_kind_is_refused(tmp_path: Path) -> None:
    data = questionnaire()
    data["scales"][0]["kind"] = "functioning"
    with pytest.raises(InstrumentFileError, match=r"scales\[0\] \(AB\)\.kind"):
        _load_with(tmp_path, "q.json", data)


def test_misspelt_field_is_refused_not_ignored(tmp_path: Path) -> None:
    data = questionnaire()
    data["items"][1]["recal_period"] = {"en": "during the past week"}
    with pytest.raises(InstrumentFileError, match=r"items\[1\] \(item 2\)\.recal_period"):
        _load_with(tmp_path, "q.json", data)


def test_undefined_option_set_is_refused(tmp_path: Path) -> None:
    data = questionnaire()
    data["items"][0]["options"] = "five_point"
    with pytest.raises(InstrumentFileError, match=r"items\[0\]\.options: option set 'five_point'"):
        _load_with(tmp_path, "q.json", data)


def test_claiming_items_verified_while_an_item_is_not_is_refused(tmp_path: Path) -> None:
    data = questionnaire()
    data["items"][1]["verified"] = False
    with pytest.raises(InstrumentFileError, match=r"provenance\.verified\.items_text.*\[2\]"):
        _load_with(tmp_path, "q.json", data)


def test_unverified_file_without_a_verification_note_is_refused(tmp_path: Path) -> None:
    data = shipped_file("qlq-ginet21.json")
    del data["verification"]
    with pytest.raises(InstrumentFileError, match=r"qlq-ginet21\.json: verification: "):
        _load_with(tmp_path, "qlq-ginet21.json", data)


def test_show_if_must_point_at_an_earlier_item_and_its_codes(tmp_path: Path) -> None:
    data = questionnaire()
    data["items"][2]["show_if"] = {"item": 1, "in": [7]}
    with pytest.raises(InstrumentFileError, match=r"items\[number=3\]\.show_if\.in: codes \[7\]"):
        _load_with(tmp_path, "q.json", data)


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text(
        '{"type": "questionnaire",\n  "code": }', encoding="utf-8"
    )
    with pytest.raises(InstrumentFileError, match=r"broken\.json: not valid JSON at line 2"):
        load_instruments(tmp_path)


def test_composition_of_an_undefined_questionnaire_is_refused(tmp_path: Path) -> None:
    data = shipped_file("eortc-net.json")
    data["parts"] = ["qlq-c30", "qlq-ginet22"]
    with pytest.raises(InstrumentFileError, match=r"eortc-net\.json: parts\[1\]: no questionnaire"):
        _load_with(tmp_path, "eortc-net.json", data)


def test_site_ginet21_reusing_a_c30_scale_code_breaks_the_net_form_loudly(
    tmp_path: Path,
) -> None:
    data = licensed_ginet21_replacement()
    data["scales"][0]["code"] = "SF"  # clashes with QLQ-C30 social functioning
    with pytest.raises(
        InstrumentFileError, match=r"eortc-net\.json: parts: .*scale codes \['SF'\]"
    ):
        _load_with(tmp_path, "qlq-ginet21.json", data)


# --- languages ------------------------------------------------------------------------


def test_text_falls_back_to_english_for_a_language_not_provided() -> None:
    item = load_instruments().get("qlq-c30").item(8)
    assert item is not None
    assert item.text_for("de") == "Were you short of breath?"
    assert item.text_for(None) == "Were you short of breath?"


def test_regional_language_falls_back_to_its_primary_language_before_english() -> None:
    text = LocalizedText({"en": "Were you tired?", "es": "¿Estuvo cansado/a?"})
    assert text.text_for("es-MX") == "¿Estuvo cansado/a?"
    assert text.text_for("es") == "¿Estuvo cansado/a?"
    assert text.text_for("fr-CA") == "Were you tired?"


def test_a_site_translation_is_served_in_that_language(tmp_path: Path) -> None:
    data = questionnaire("translated")
    data["items"][0]["text"]["es"] = "¿Pregunta 1?"
    data["option_sets"]["four_point"][0]["label"]["es"] = "En absoluto"
    item = _load_with(tmp_path, "t.json", data).get("translated").item(1)
    assert item.text_for("es") == "¿Pregunta 1?"
    assert item.options[0].label.text_for("es") == "En absoluto"
    assert item.options[1].label.text_for("es") == "A little"
