"""The certificate's PDF: in the person's language, with the verify URL printed beside its QR
code, and the household for a household composition certificate."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from guichet_authentic_data.certificates.document import (
    CertificateFacts,
    CertificateKind,
    render_certificate,
)
from guichet_authentic_data.registers.records import AddressRecord, PersonRecord, PersonRef
from guichet_kit.i18n import Language

ANNE = PersonRecord(
    national_id="1980010112345",
    given_names="Anne",
    surname="Muller",
    birth_date=date(1980, 1, 1),
    birth_place="Esch-sur-Alzette",
    sex="F",
    nationality="LU",
    address=AddressRecord("rue de la Gare", "12", "1611", "Luxembourg", "Luxembourg"),
    marital_status="married",
    household=(
        PersonRef("1980010112345", "Anne", "Muller", date(1980, 1, 1), "self"),
        PersonRef("2015090300712", "Léa", "Schmit", date(2015, 9, 3), "child"),
    ),
)
URL = "http://127.0.0.1:8000/verify/0b0e1a52-7f1e-4d6c-9a43-1d7e2f3b4c5d"


def _text(pdf: bytes) -> str:
    """The page's content stream, decompressed (the text shows as PDF string literals)."""
    page = PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Kids"][0]
    return page["/Contents"].data.decode("latin-1")


def _render(kind: CertificateKind, language: Language) -> bytes:
    facts = CertificateFacts(
        "0b0e1a52-7f1e-4d6c-9a43-1d7e2f3b4c5d",
        kind,
        language,
        datetime(2025, 5, 6, 7, 8, tzinfo=UTC),
        URL,
    )
    return render_certificate(facts, ANNE)


@pytest.mark.parametrize(
    ("language", "title", "born"),
    [
        (Language.FR, "Certificat de r\\351sidence", "1 janvier 1980"),  # é as a PDF octal escape
        (Language.DE, "Wohnsitzbescheinigung", "1. Januar 1980"),
        (Language.EN, "Residence certificate", "1 January 1980"),
    ],
)
def test_a_residence_certificate_speaks_the_persons_language(
    language: Language, title: str, born: str
) -> None:
    text = _text(_render(CertificateKind.RESIDENCE, language))
    assert title in text
    assert born in text
    assert "Muller" in text and "1980010112345" in text
    assert URL in text
    assert "Schmit" not in text  # the household is not on a residence certificate


def test_a_household_certificate_lists_the_household() -> None:
    text = _text(_render(CertificateKind.HOUSEHOLD, Language.EN))
    assert "Household composition certificate" in text
    assert "Schmit" in text and "child" in text
