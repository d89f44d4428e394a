"""The paper forms that can be tracked, each owned by one administration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from guichet_etracking.tracking.contact import Language


class Administration(StrEnum):
    ACD = "acd"  # Administration des contributions directes (direct taxes)
    CCSS = "ccss"  # Centre commun de la sécurité sociale
    SNCA = "snca"  # Société nationale de circulation automobile (vehicles)
    CAE = "cae"  # Caisse pour l'avenir des enfants (family allowances)


ADMINISTRATION_NAMES: Mapping[Administration, Mapping[Language, str]] = MappingProxyType(
    {
        Administration.ACD: {
            Language.FR: "Administration des contributions directes",
            Language.DE: "Direkte Steuerverwaltung",
            Language.EN: "Direct Tax Administration",
        },
        Administration.CCSS: {
            Language.FR: "Centre commun de la sécurité sociale",
            Language.DE: "Gemeinsames Sozialversicherungszentrum",
            Language.EN: "Joint Social Security Centre",
        },
        Administration.SNCA: {
            Language.FR: "Société nationale de circulation automobile",
            Language.DE: "Nationale Gesellschaft für Kraftfahrzeugverkehr",
            Language.EN: "National Road Vehicle Agency",
        },
        Administration.CAE: {
            Language.FR: "Caisse pour l'avenir des enfants",
            Language.DE: "Zukunftskeess (Kasse für die Zukunft der Kinder)",
            Language.EN: "Children's Future Fund",
        },
    }
)


class UnknownPaperForm(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"No trackable paper form has the code {code!r}.")
        self.code = code


@dataclass(frozen=True, slots=True)
class PaperForm:
    code: str  # stable, upper case: stored with every eTracking and printed on its sheet
    administration: Administration
    titles: Mapping[str, str] = field(hash=False)  # fr, de, en

    def title(self, language: Language) -> str:
        return self.titles[language]


def _form(code: str, administration: Administration, fr: str, de: str, en: str) -> PaperForm:
    titles = MappingProxyType({Language.FR.value: fr, Language.DE.value: de, Language.EN.value: en})
    return PaperForm(code, administration, titles)


PAPER_FORMS: tuple[PaperForm, ...] = (
    _form(
        "ACD-IR-100",
        Administration.ACD,
        "Déclaration pour l'impôt sur le revenu (modèle 100)",
        "Einkommensteuererklärung (Vordruck 100)",
        "Income tax return (form 100)",
    ),
    _form(
        "ACD-DA-163",
        Administration.ACD,
        "Demande de décompte annuel (modèle 163)",
        "Antrag auf Lohnsteuerjahresausgleich (Vordruck 163)",
        "Application for an annual tax adjustment (form 163)",
    ),
    _form(
        "CCSS-AFF-01",
        Administration.CCSS,
        "Déclaration d'entrée d'un salarié (affiliation)",
        "Anmeldung eines Arbeitnehmers (Versicherungsanmeldung)",
        "Registration of an employee with social security",
    ),
    _form(
        "CCSS-COA-02",
        Administration.CCSS,
        "Demande de coassurance d'un membre de famille",
        "Antrag auf Mitversicherung eines Familienangehörigen",
        "Application for co-insurance of a family member",
    ),
    _form(
        "SNCA-IMM-01",
        Administration.SNCA,
        "Demande d'immatriculation d'un véhicule routier",
        "Antrag auf Zulassung eines Straßenfahrzeugs",
        "Application for the registration of a road vehicle",
    ),
    _form(
        "CAE-AF-01",
        Administration.CAE,
        "Demande d'allocations familiales",
        "Antrag auf Familienzulagen",
        "Application for family allowances",
    ),
)

_BY_CODE: Mapping[str, PaperForm] = MappingProxyType({form.code: form for form in PAPER_FORMS})


def find_paper_form(code: str) -> PaperForm:
    """Codes are matched ignoring case and surrounding spaces, as they may be typed or scanned."""
    try:
        return _BY_CODE[code.strip().upper()]
    except KeyError:
        raise UnknownPaperForm(code) from None


def paper_forms_of(administration: str) -> tuple[PaperForm, ...]:
    """The forms one administration owns; an unknown administration simply owns none."""
    return tuple(form for form in PAPER_FORMS if form.administration == administration)


def administration_name(administration: Administration, language: Language) -> str:
    return ADMINISTRATION_NAMES[administration][language]
