"""What the fields of a profile may hold; each check returns the clean value or field errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from guichet_identity.national_id import InvalidNationalId, NationalId, validate_national_id
from guichet_kit.errors import FieldError

MAX_NAME_LENGTH = 100
MAX_STREET_LENGTH = 200
MAX_LOCALITY_LENGTH = 100
MAX_HOUSE_NUMBER_LENGTH = 20
# Numbers without a country prefix are read as Luxembourg numbers.
DEFAULT_PHONE_REGION = "LU"

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


class Language(StrEnum):
    FR = "fr"
    DE = "de"
    EN = "en"


@dataclass(frozen=True)
class Address:
    street: str = ""
    house_number: str = ""
    postal_code: str = ""
    locality: str = ""
    country: str = ""


class InvalidFields(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{error.field}: {error.message}" for error in errors))
        self.errors = errors


def check_name(field: str, text: str, errors: list[FieldError]) -> str:
    value = " ".join(text.split())
    if not value:
        errors.append(FieldError(field, "required", "Give a name."))
    elif len(value) > MAX_NAME_LENGTH:
        errors.append(FieldError(field, "too_long", f"At most {MAX_NAME_LENGTH} characters."))
    return value


def check_national_id(field: str, text: str, errors: list[FieldError]) -> NationalId | None:
    try:
        return validate_national_id(text)
    except InvalidNationalId as error:
        errors.append(FieldError(field, error.reason, str(error)))
        return None


def check_phone(field: str, text: str, errors: list[FieldError]) -> str | None:
    """E.164, or None when `text` is empty (the person gave no number)."""
    if not text.strip():
        return None
    try:
        number = phonenumbers.parse(text, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        errors.append(
            FieldError(field, "invalid", "Give a valid phone number, e.g. +352 621 123 456.")
        )
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_language(field: str, text: str, errors: list[FieldError]) -> Language:
    try:
        return Language(text.strip().lower())
    except ValueError:
        errors.append(FieldError(field, "unsupported", "Choose fr, de or en."))
        return Language.FR


def check_email(field: str, text: str, errors: list[FieldError]) -> str:
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        errors.append(FieldError(field, "invalid", str(error)))
        return text


def _bounded(field: str, text: str, limit: int, errors: list[FieldError]) -> str:
    value = " ".join(text.split())
    if len(value) > limit:
        errors.append(FieldError(field, "too_long", f"At most {limit} characters."))
    return value


def check_address(prefix: str, address: Address, errors: list[FieldError]) -> Address:
    """All empty (no address known), or street, postal code, locality and country."""
    street = _bounded(f"{prefix}.street", address.street, MAX_STREET_LENGTH, errors)
    house_number = _bounded(
        f"{prefix}.house_number", address.house_number, MAX_HOUSE_NUMBER_LENGTH, errors
    )
    locality = _bounded(f"{prefix}.locality", address.locality, MAX_LOCALITY_LENGTH, errors)
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
            errors.append(FieldError(f"{prefix}.{field}", "required", "Complete the address."))
    if country and country not in COUNTRIES:
        errors.append(
            FieldError(f"{prefix}.country", "invalid", "Give the country's two-letter ISO code.")
        )
    if postal_code:
        pattern = _POSTAL_CODES.get(country, _ANY_POSTAL_CODE)
        match = pattern.fullmatch(postal_code)
        if match is None:
            errors.append(
                FieldError(f"{prefix}.postal_code", "invalid", "This is not a postal code here.")
            )
        else:
            # Stored without the country letter people often write (L-1234 → 1234).
            postal_code = match.group(1)
    return Address(street, house_number, postal_code, locality, country)
