import io
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from guichet_etracking.tracking.catalogue import find_paper_form
from guichet_etracking.tracking.contact import Language
from guichet_etracking.tracking.number import TrackingNumber, parse_tracking_number
from guichet_etracking.tracking.sheet import format_luxembourg_time, render_tracking_sheet

NUMBER: TrackingNumber = parse_tracking_number("ET-63RK-E8A4-2")
FORM = find_paper_form("ACD-IR-100")
CREATED_AT = datetime(2025, 7, 14, 12, 5, tzinfo=UTC)
URL = f"https://guichet.example.lu/etracking/{NUMBER.canonical}?lang=fr&src=sheet"

TITLES = {
    Language.FR: ("Feuille eTracking", "Créée le 14 juillet 2025 à 14:05", "joignez-la"),
    Language.DE: ("eTracking-Blatt", "Erstellt am 14. Juli 2025, 14:05 Uhr", "legen Sie es"),
    Language.EN: ("eTracking sheet", "Created on 14 July 2025 at 14:05", "attach it"),
}


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


@pytest.mark.parametrize("language", list(Language))
def test_the_sheet_shows_number_title_form_date_and_instructions(language: Language) -> None:
    pdf = render_tracking_sheet(NUMBER, FORM, language, CREATED_AT, URL)
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    title, created, instruction = TITLES[language]
    assert NUMBER.display in text
    assert title in text
    assert FORM.title(language) in text
    assert FORM.code in text
    assert created in text
    assert instruction in text
    assert URL in text


def test_the_sheet_is_a4_with_document_metadata() -> None:
    reader = PdfReader(
        io.BytesIO(render_tracking_sheet(NUMBER, FORM, Language.EN, CREATED_AT, URL))
    )
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    assert reader.metadata is not None
    assert reader.metadata.title == "eTracking sheet ET-63RK-E8A4-2"


def test_the_same_inputs_give_the_same_bytes() -> None:
    first = render_tracking_sheet(NUMBER, FORM, Language.DE, CREATED_AT, URL)
    assert render_tracking_sheet(NUMBER, FORM, Language.DE, CREATED_AT, URL) == first


def test_a_naive_creation_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        render_tracking_sheet(NUMBER, FORM, Language.FR, datetime(2025, 7, 14, 12, 5), URL)


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2025, 1, 31, 23, 30, tzinfo=UTC), "1 February 2025 at 00:30"),  # CET, +1
        (datetime(2025, 3, 30, 0, 59, tzinfo=UTC), "30 March 2025 at 01:59"),  # last CET minute
        (datetime(2025, 3, 30, 1, 0, tzinfo=UTC), "30 March 2025 at 03:00"),  # CEST, +2
    ],
)
def test_dates_are_shown_in_luxembourg_time(moment: datetime, shown: str) -> None:
    assert format_luxembourg_time(moment, Language.EN) == shown
