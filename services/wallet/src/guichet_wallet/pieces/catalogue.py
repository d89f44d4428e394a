"""The types of pieces a wallet holds, with their names and the file types each accepts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from guichet_kit.i18n import Language

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
ZIP = "application/zip"
# What most pieces are: a scan or a photo of a paper, or a PDF.
DOCUMENTS = frozenset({PDF, JPEG, PNG})

# eDocuments come from administrations (F44): people cannot upload a piece of this type.
EDOCUMENT = "edocument"


class UnknownPieceType(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"No piece type has the code {code!r}.")
        self.code = code


@dataclass(frozen=True, slots=True)
class PieceType:
    code: str  # stable, lower case: stored with every piece
    names: Mapping[str, str] = field(hash=False)  # fr, de, en
    allowed_content_types: frozenset[str]
    # Whether pieces of this type carry an expiry date (an identity card does, a diploma not).
    expires: bool
    # False for types only the platform files (eDocuments).
    uploadable: bool = True

    def name(self, language: Language) -> str:
        return self.names[language.value]


def _type(
    code: str,
    fr: str,
    de: str,
    en: str,
    *,
    expires: bool,
    allowed: frozenset[str] = DOCUMENTS,
    uploadable: bool = True,
) -> PieceType:
    names = MappingProxyType({Language.FR.value: fr, Language.DE.value: de, Language.EN.value: en})
    return PieceType(code, names, allowed, expires, uploadable)


PIECE_TYPES: tuple[PieceType, ...] = (
    _type("identity_card", "Carte d'identité", "Personalausweis", "Identity card", expires=True),
    _type("passport", "Passeport", "Reisepass", "Passport", expires=True),
    _type(
        "residence_permit", "Titre de séjour", "Aufenthaltstitel", "Residence permit", expires=True
    ),
    _type(
        "residence_certificate",
        "Certificat de résidence",
        "Wohnsitzbescheinigung",
        "Certificate of residence",
        expires=False,
    ),
    _type(
        "birth_certificate",
        "Acte de naissance",
        "Geburtsurkunde",
        "Birth certificate",
        expires=False,
    ),
    _type(
        "marriage_certificate",
        "Acte de mariage",
        "Heiratsurkunde",
        "Marriage certificate",
        expires=False,
    ),
    _type("payslip", "Fiche de salaire", "Gehaltsabrechnung", "Payslip", expires=False),
    _type(
        "tax_notice", "Bulletin d'impôt", "Steuerbescheid", "Tax assessment notice", expires=False
    ),
    _type("diploma", "Diplôme", "Diplom", "Diploma", expires=False),
    _type(
        "bank_identity",
        "Relevé d'identité bancaire (RIB)",
        "Bankverbindung (RIB)",
        "Bank account details (RIB)",
        expires=False,
    ),
    _type("driving_licence", "Permis de conduire", "Führerschein", "Driving licence", expires=True),
    _type(
        "medical_certificate",
        "Certificat médical",
        "Ärztliches Attest",
        "Medical certificate",
        expires=True,
    ),
    _type("lease", "Contrat de bail", "Mietvertrag", "Lease", expires=True),
    # Anything else, including office documents and archives (which the pipeline opens and checks).
    _type(
        "other",
        "Autre document",
        "Sonstiges Dokument",
        "Other document",
        expires=True,
        allowed=DOCUMENTS | {DOCX, ODT, ZIP},
    ),
    _type(
        EDOCUMENT,
        "Document d'une administration",
        "Dokument einer Behörde",
        "Document from an administration",
        expires=False,
        uploadable=False,
    ),
)

_BY_CODE: Mapping[str, PieceType] = MappingProxyType({t.code: t for t in PIECE_TYPES})

# What a person chooses from when adding a piece.
UPLOADABLE_TYPES: tuple[PieceType, ...] = tuple(t for t in PIECE_TYPES if t.uploadable)


def find_piece_type(code: str) -> PieceType:
    """Any type, as stored with a piece (eDocuments included)."""
    try:
        return _BY_CODE[code.strip().lower()]
    except KeyError:
        raise UnknownPieceType(code) from None


def uploadable_type(code: str) -> PieceType:
    """A type a person or a platform service may file a piece under; eDocuments are received."""
    piece_type = find_piece_type(code)
    if not piece_type.uploadable:
        raise UnknownPieceType(code)
    return piece_type
