from datetime import date

import pytest

from guichet_kit.domain import InvalidInput
from guichet_kit.i18n import Language
from guichet_kit.national_id import make_national_id
from guichet_wallet.pieces.catalogue import find_piece_type
from guichet_wallet.pieces.details import (
    InvalidOwner,
    PieceDetails,
    parse_owner,
    piece_details,
)

TODAY = date(2026, 11, 24)
PASSPORT = find_piece_type("passport")
DIPLOMA = find_piece_type("diploma")


def details(
    title: str = "My passport",
    issued_on: str = "",
    expires_on: str = "",
    *,
    piece_type=PASSPORT,
    required: bool = False,
    language: Language = Language.EN,
) -> PieceDetails:
    return piece_details(
        piece_type,
        title,
        issued_on,
        expires_on,
        today=TODAY,
        language=language,
        title_required=required,
    )


def refused_fields(**kwargs: object) -> dict[str, str]:
    with pytest.raises(InvalidInput) as refused:
        details(**kwargs)  # type: ignore[arg-type]
    assert refused.value.reason == "INVALID_PIECE"
    return {error.field: error.reason for error in refused.value.fields}


def test_a_piece_with_dates_is_accepted_and_its_title_cleaned() -> None:
    assert details("  My   passport ", "2020-01-31", "2030-01-30") == PieceDetails(
        "My passport", date(2020, 1, 31), date(2030, 1, 30)
    )


def test_a_new_piece_without_a_title_is_named_after_its_type_in_the_persons_language() -> None:
    assert details("", language=Language.FR).title == "Passeport"
    assert details("", language=Language.DE).title == "Reisepass"


def test_a_rename_to_nothing_is_refused() -> None:
    assert refused_fields(title=" ", required=True) == {"title": "required"}


@pytest.mark.parametrize(
    "text", ["31/01/2020", "2020-1-31", "20200131", "2020-W05-1", "2020-02-30"]
)
def test_a_date_not_written_yyyy_mm_dd_is_refused(text: str) -> None:
    assert refused_fields(issued_on=text) == {"issued_on": "invalid"}


def test_every_wrong_field_is_reported_at_once() -> None:
    fields = refused_fields(title="a\u202eb", issued_on="2027-01-01", expires_on="0202-01-01")
    assert fields == {
        "title": "control_character",
        "issued_on": "in_future",
        "expires_on": "out_of_range",
    }


def test_a_piece_cannot_expire_before_it_was_issued() -> None:
    assert refused_fields(issued_on="2020-01-01", expires_on="2019-12-31") == {
        "expires_on": "before_issue"
    }


def test_a_type_that_does_not_expire_takes_no_expiry_date() -> None:
    assert details("BSc", "2010-07-01", piece_type=DIPLOMA).expires_on is None
    assert refused_fields(piece_type=DIPLOMA, expires_on="2030-01-01") == {
        "expires_on": "not_expiring"
    }


def test_a_title_is_at_most_200_characters() -> None:
    assert details("x" * 200).title == "x" * 200
    assert refused_fields(title="x" * 201) == {"title": "too_long"}


def test_owners_are_people_by_valid_national_id_or_company_spaces() -> None:
    national_id = make_national_id(date(1980, 1, 1), 123).value
    assert parse_owner(f"person:{national_id}") == f"person:{national_id}"
    assert parse_owner("company:3f1c2a9e-0b7d-4a57-9a70-4d4b6a1f0c11").startswith("company:")
    for wrong in (
        "",
        "person:123",
        f"relation:{national_id}",
        "company:",
        "company:a b",
        national_id,
    ):
        with pytest.raises(InvalidOwner):
            parse_owner(wrong)
