"""What identity's own fields may hold: names and addresses (the shared value types, e-mail, phone,
national identifier, language, are `guichet_kit.values`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from guichet_kit.domain import FieldErrors
from guichet_kit.i18n import Catalog
from guichet_kit.values import check, parse_human_text

_ = Catalog("guichet_identity")

# The columns' sizes: a longer value is refused, never cut.
MAX_NAME_LENGTH = 100
MAX_STREET_LENGTH = 200
MAX_LOCALITY_LENGTH = 100
MAX_HOUSE_NUMBER_LENGTH = 20
MAX_POSTAL_CODE_INPUT = 20

# Region codes phonenumbers knows that are not ISO 3166-1 alpha-2 countries.
_NOT_ISO_COUNTRIES = {"AC", "TA", "XK", "001"}
# ISO 3166-1 countries without a telephone numbering plan of their own.
_WITHOUT_PHONE_PLAN = {"AQ", "BV", "HM", "TF", "UM", "GS", "PN"}
COUNTRIES = frozenset((phonenumbers.SUPPORTED_REGIONS - _NOT_ISO_COUNTRIES) | _WITHOUT_PHONE_PLAN)

_POSTAL_CODES = {
    "LU": re.compile(r"(?:L-?)?(\d{4})"),
    "BE": re.compile(r"(?:B-?)?(\d{4})"),
    "FR": re.compile(r"(?:F-?)?(\d{5})"),
    "DE": re.compile(r"(?:D-?)?(\d{5})"),
    "NL": re.compile(r"(\d{4} ?[A-Z]{2})"),
}
_ANY_POSTAL_CODE = re.compile(r"([A-Z0-9][A-Z0-9 -]{1,9})")


def parse_name(text: str) -> str:
    """A first or last name: human text (no control or bidi characters), NFC, at most 100."""
    return parse_human_text(text, max_length=MAX_NAME_LENGTH)


@dataclass(frozen=True)
class Address:
    street: str = ""
    house_number: str = ""
    postal_code: str = ""
    locality: str = ""
    country: str = ""


def check_address(errors: FieldErrors, prefix: str, address: Address) -> Address:
    """All empty (no address known), or street, postal code, locality and country."""

    def text(field: str, value: str, limit: int) -> str:
        clean = check(
            errors,
            f"{prefix}.{field}",
            lambda t: parse_human_text(t, max_length=limit, required=False),
            value,
        )
        return clean if clean is not None else value.strip()

    street = text("street", address.street, MAX_STREET_LENGTH)
    house_number = text("house_number", address.house_number, MAX_HOUSE_NUMBER_LENGTH)
    locality = text("locality", address.locality, MAX_LOCALITY_LENGTH)
    country = address.country.strip().upper()
    postal_code = " ".join(address.postal_code.upper().split())
    if not any((street, house_number, locality, country, postal_code)):
        return Address()
    for field, value in (
        ("street", street),
        ("postal_code", postal_code),
        ("locality", locality),
        ("country", country),
    ):
        if not value:
            errors.add(f"{prefix}.{field}", "required", _("Complete the address."))
    if country and country not in COUNTRIES:
        errors.add(f"{prefix}.country", "invalid", _("Give the country's two-letter ISO code."))
    if postal_code:
        pattern = _POSTAL_CODES.get(country, _ANY_POSTAL_CODE)
        match = (
            pattern.fullmatch(postal_code) if len(postal_code) <= MAX_POSTAL_CODE_INPUT else None
        )
        if match is None:
            errors.add(
                f"{prefix}.postal_code", "invalid", _("This is not a postal code of this country.")
            )
        else:
            # Stored without the country letter people often write (L-1234 → 1234).
            postal_code = match.group(1)
    return Address(street, house_number, postal_code, locality, country)
