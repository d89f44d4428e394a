import re

import pytest

from guichet_kit.i18n import Language
from guichet_wallet.pieces.catalogue import (
    DOCUMENTS,
    EDOCUMENT,
    PIECE_TYPES,
    UPLOADABLE_TYPES,
    PieceType,
    UnknownPieceType,
    find_piece_type,
    uploadable_type,
)


def test_codes_are_unique_and_lower_case() -> None:
    codes = [piece_type.code for piece_type in PIECE_TYPES]
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", code) for code in codes)


@pytest.mark.parametrize("piece_type", PIECE_TYPES, ids=lambda t: t.code)
def test_every_type_has_a_name_in_each_language_and_accepts_documents(
    piece_type: PieceType,
) -> None:
    assert all(piece_type.name(language).strip() for language in Language)
    assert piece_type.allowed_content_types >= DOCUMENTS


def test_identity_papers_expire_and_a_diploma_does_not() -> None:
    assert find_piece_type("identity_card").expires
    assert find_piece_type("passport").expires
    assert not find_piece_type("diploma").expires


def test_only_other_accepts_office_documents_and_archives() -> None:
    wider = [t.code for t in PIECE_TYPES if t.allowed_content_types != DOCUMENTS]
    assert wider == ["other"]
    assert "application/zip" in find_piece_type("other").allowed_content_types


def test_codes_are_found_ignoring_case_and_spaces() -> None:
    assert find_piece_type(" Passport ").code == "passport"


@pytest.mark.parametrize("code", ["", "passports", "identity card", "../passport"])
def test_an_unknown_code_is_refused(code: str) -> None:
    with pytest.raises(UnknownPieceType):
        find_piece_type(code)


def test_edocuments_are_received_never_uploaded() -> None:
    assert find_piece_type(EDOCUMENT).code == EDOCUMENT
    assert EDOCUMENT not in {t.code for t in UPLOADABLE_TYPES}
    with pytest.raises(UnknownPieceType):
        uploadable_type(EDOCUMENT)
