import re

import pytest

from guichet_etracking.tracking.catalogue import (
    PAPER_FORMS,
    Administration,
    PaperForm,
    UnknownPaperForm,
    administration_name,
    find_paper_form,
    paper_forms_of,
)
from guichet_etracking.tracking.contact import Language


def test_codes_are_unique_upper_case_and_name_their_administration() -> None:
    codes = [form.code for form in PAPER_FORMS]
    assert len(set(codes)) == len(codes)
    for form in PAPER_FORMS:
        assert re.fullmatch(r"[A-Z]+-[A-Z]+-\d+", form.code)
        assert form.code.startswith(form.administration.value.upper() + "-")


@pytest.mark.parametrize("form", PAPER_FORMS, ids=lambda form: form.code)
def test_every_form_has_a_title_in_french_german_and_english(form: PaperForm) -> None:
    assert set(form.titles) == {"fr", "de", "en"}
    assert all(form.title(language).strip() for language in Language)


@pytest.mark.parametrize("administration", list(Administration))
def test_every_administration_owns_forms_and_has_a_name(administration: Administration) -> None:
    forms = paper_forms_of(administration)
    assert forms
    assert all(form.administration == administration for form in forms)
    assert all(administration_name(administration, language) for language in Language)


def test_forms_of_an_administration_accept_its_plain_code() -> None:
    assert [form.code for form in paper_forms_of("acd")] == ["ACD-IR-100", "ACD-DA-163"]
    assert paper_forms_of("nobody") == ()


def test_a_form_is_found_by_its_code_whatever_the_case() -> None:
    form = find_paper_form(" ccss-aff-01 ")
    assert form.code == "CCSS-AFF-01"
    assert form.administration == Administration.CCSS
    assert find_paper_form("SNCA-IMM-01").title(Language.DE).startswith("Antrag auf Zulassung")


def test_an_unknown_code_is_a_lookup_error() -> None:
    with pytest.raises(UnknownPaperForm, match="No trackable paper form has the code 'ACD-IR-999'"):
        find_paper_form("ACD-IR-999")
    with pytest.raises(LookupError):
        find_paper_form("")


def test_forms_are_immutable_values() -> None:
    form = find_paper_form("CAE-AF-01")
    assert hash(form) == hash(find_paper_form("cae-af-01"))
    with pytest.raises(TypeError):
        form.titles["fr"] = "autre"  # type: ignore[index]
