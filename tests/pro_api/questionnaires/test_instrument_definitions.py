"""GET /v1/instruments, /v1/instruments/{code} and the FHIR Questionnaire: the form as data,
with copyright, provenance and a plain statement of what is not verified."""

from __future__ import annotations

from fhir.resources.R4B.questionnaire import Questionnaire

from tests.pro_api.questionnaires.factories import enrol
from tests.support.factories import new_site_id


def staff(tokens, site=None):
    return tokens.headers("site_staff", site=site or new_site_id(), aud="pro_api")


async def test_instruments_are_listed_for_any_authenticated_role(pro, tokens) -> None:
    for role in ("site_staff", "monitor", "trial_admin", "ehr_client"):
        response = await pro.get(
            "/v1/instruments", headers=tokens.headers(role, site="101", aud="pro_api")
        )
        assert response.status_code == 200, response.text
        codes = {i["code"]: i for i in response.json()}
        assert {"eortc-net", "qlq-c30", "qlq-ginet21"} <= set(codes)
        assert codes["eortc-net"]["items"] == 51
        assert codes["qlq-c30"]["fully_verified"] is True
        assert codes["eortc-net"]["fully_verified"] is False


async def test_instruments_need_a_token(pro) -> None:
    for path in ("/v1/instruments", "/v1/instruments/eortc-net"):
        response = await pro.get(path)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_eortc_net_definition_has_items_options_scales_copyright_and_provenance(
    pro, tokens
) -> None:
    response = await pro.get("/v1/instruments/eortc-net", headers=staff(tokens))
    assert response.status_code == 200
    body = response.json()
    assert [item["number"] for item in body["items"]] == list(range(1, 52))
    item_1 = body["items"][0]
    assert item_1["questionnaire"] == "qlq-c30"
    assert [o["code"] for o in item_1["options"]] == [1, 2, 3, 4]
    assert item_1["options"][0]["label"] == "Not at all"
    assert [o["code"] for o in body["items"][29]["options"]] == [1, 2, 3, 4, 5, 6, 7]
    scales = {scale["code"]: scale for scale in body["scales"]}
    assert scales["QL2"] == {
        "code": "QL2",
        "name": scales["QL2"]["name"],
        "questionnaire": "qlq-c30",
        "items": [29, 30],
        "kind": "global",
        "range": 6,
        "verified": True,
    }
    assert scales["PF2"]["kind"] == "functional" and scales["FA"]["items"] == [10, 12, 18]
    assert body["summary_scores"][0]["code"] == "C30SUMMARY"
    parts = {part["code"]: part for part in body["questionnaires"]}
    assert "EORTC" in parts["qlq-c30"]["copyright_notice"]
    assert parts["qlq-c30"]["fully_verified"] is True


async def test_ginet21_says_plainly_what_is_not_verified(pro, tokens) -> None:
    body = (await pro.get("/v1/instruments/eortc-net", headers=staff(tokens))).json()
    ginet = next(part for part in body["questionnaires"] if part["code"] == "qlq-ginet21")
    assert ginet["fully_verified"] is False
    assert ginet["verified"]["items_text"] is False and ginet["verified"]["scales"] is False
    assert ginet["verified"]["response_options"] is True
    assert "NOT VERIFIED" in ginet["verification_note"]
    assert "qlq-ginet21" in body["warning"]
    assert all(not item["verified"] for item in body["items"] if item["number"] >= 31)
    assert all(
        not scale["verified"] for scale in body["scales"] if scale["questionnaire"] == "qlq-ginet21"
    )


async def test_text_falls_back_to_english_for_a_language_the_file_lacks(pro, tokens) -> None:
    response = await pro.get("/v1/instruments/qlq-c30?lang=pt-BR", headers=staff(tokens))
    assert response.status_code == 200
    assert response.json()["language"] == "pt-BR"
    assert response.json()["items"][0]["options"][0]["label"] == "Not at all"


async def test_a_patient_gets_the_form_in_their_own_language_by_default(pro, tokens) -> None:
    patient = await enrol(pro, tokens, language="de")
    body = (await pro.get("/v1/instruments/eortc-net", headers=patient.headers)).json()
    assert body["language"] == "de"


async def test_an_unknown_instrument_is_404_naming_the_available_ones(pro, tokens) -> None:
    response = await pro.get("/v1/instruments/qlq-xx99", headers=staff(tokens))
    assert response.status_code == 404
    assert "eortc-net" in response.json()["detail"]


async def test_fhir_questionnaire_validates_with_fhir_resources_r4b(pro, tokens) -> None:
    response = await pro.get("/fhir/Questionnaire/eortc-net", headers=staff(tokens))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    questionnaire = Questionnaire.model_validate(response.json())
    assert questionnaire.url == "urn:captem:questionnaire:eortc-net"
    assert questionnaire.status == "draft"  # GINET21 is an unverified placeholder
    assert "EORTC" in questionnaire.copyright
    items = questionnaire.item
    assert [item.linkId for item in items] == [str(n) for n in range(1, 52)]
    first = items[0]
    assert first.type == "choice"
    assert [(o.valueCoding.code, o.valueCoding.display) for o in first.answerOption] == [
        ("1", "Not at all"),
        ("2", "A little"),
        ("3", "Quite a bit"),
        ("4", "Very much"),
    ]
    assert first.text


async def test_fhir_questionnaire_errors_are_operation_outcomes(pro, tokens) -> None:
    missing = await pro.get("/fhir/Questionnaire/nope", headers=staff(tokens))
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"
    assert missing.json()["issue"][0]["code"] == "not-found"
    unauthenticated = await pro.get("/fhir/Questionnaire/eortc-net")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["issue"][0]["code"] == "login"


def test_a_broken_instruments_file_stops_start_up_with_the_loaders_message(
    settings, tmp_path
) -> None:
    import pytest

    from services.pro_api.app import create_app
    from services.pro_api.instruments.loader import InstrumentFileError

    (tmp_path / "qlq-ginet21.json").write_text('{"type": "questionnaire", "code": ')
    with pytest.raises(InstrumentFileError, match=r"qlq-ginet21\.json: not valid JSON"):
        create_app(settings.model_copy(update={"instruments_dir": tmp_path}))


def test_the_catalog_is_read_from_captem_instruments_dir(settings, tmp_path) -> None:
    from services.pro_api.app import create_app
    from tests.pro_api.instruments.factories import questionnaire, write_json

    write_json(tmp_path, "site-q.json", questionnaire("site-q"))
    app = create_app(settings.model_copy(update={"instruments_dir": tmp_path}))
    assert "site-q" in app.state.instruments.codes
