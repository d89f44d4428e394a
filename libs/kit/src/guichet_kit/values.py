"""Shared value types, validated once for every service: human text, e-mail, phone number, company
number, UUIDs (the national identifier is `guichet_kit.national_id`, the language
`guichet_kit.i18n.Language`).

Each `parse_*` returns the clean, normalised value or raises `InvalidValue` with a short machine
reason and a translatable message; `FieldErrors.check` turns that into a field error so a request
is refused with all its wrong fields at once.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable
from typing import TypeVar

import email_validator
import phonenumbers

from guichet_kit.domain import FieldErrors
from guichet_kit.i18n import Catalog, Language, Text, parse_language
from guichet_kit.national_id import InvalidNationalId, NationalId, validate_national_id

_ = Catalog("guichet_kit")

T = TypeVar("T")

# Numbers without a country prefix are read as Luxembourg numbers.
DEFAULT_PHONE_REGION = "LU"
MAX_EMAIL_LENGTH = 254  # RFC 5321's path limit
# FIXED_LINE_OR_MOBILE: some numbering plans (e.g. US) cannot tell the two apart; an SMS may work.
_SMS_CAPABLE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)
# Luxembourg RCS style: a section letter (B: companies, F: associations, …) and up to 6 digits.
_COMPANY_NUMBER = re.compile(r"[A-Z][1-9][0-9]{0,5}")
# Characters that reorder or hide text (bidirectional controls): shown to others, they make a name
# read differently from what it is ("Anne\u202eeciL").
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Never in a person's text: controls, invisible formatting, surrogates, private use, unassigned.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# The invisible joiners some scripts (Persian, Indic) and emoji sequences need.
_JOINERS = frozenset("\u200c\u200d")


class InvalidValue(ValueError):
    """A value refused by its type: `reason` for machines, `message` for the person."""

    def __init__(self, reason: str, message: Text) -> None:
        super().__init__(str(message))
        self.reason = reason
        self.message = message


def parse_human_text(
    text: str, *, max_length: int, required: bool = True, multiline: bool = False
) -> str:
    """A name, a comment, a subject: NFC, spaces folded (line breaks kept when `multiline`), no
    control or bidirectional-override characters, at most `max_length` characters."""
    value = unicodedata.normalize("NFC", text)
    allowed_controls = "\n" if multiline else ""
    for character in value:
        if character in _BIDI_CONTROLS or (
            unicodedata.category(character) in _REFUSED_CATEGORIES
            and character not in _JOINERS
            and character not in allowed_controls
            and not character.isspace()
        ):
            raise InvalidValue(
                "control_character", _("Remove the invisible control characters from this text.")
            )
    if multiline:
        lines = [" ".join(line.split()) for line in value.replace("\r\n", "\n").split("\n")]
        value = "\n".join(lines).strip()
    else:
        value = " ".join(value.split())
    if required and not value:
        raise InvalidValue("required", _("This field is required."))
    if len(value) > max_length:
        raise InvalidValue("too_long", _("At most {limit} characters.", limit=max_length))
    return value


def parse_email(text: str) -> str:
    """The normalised address (domain lower-cased, Unicode NFC); no DNS lookup."""
    value = text.strip()
    if not value:
        raise InvalidValue("required", _("Give an e-mail address."))
    if len(value) > MAX_EMAIL_LENGTH:
        raise InvalidValue("too_long", _("At most {limit} characters.", limit=MAX_EMAIL_LENGTH))
    try:
        checked = email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError:
        raise InvalidValue(
            "invalid", _("This is not a valid e-mail address, e.g. anne@example.lu.")
        ) from None
    return checked.normalized


def parse_phone(text: str, *, mobile: bool = False, region: str = DEFAULT_PHONE_REGION) -> str:
    """The number in E.164 (`+352621123456`); with `mobile`, it must be able to receive an SMS."""
    try:
        number = phonenumbers.parse(text[:64], region)
    except phonenumbers.NumberParseException:
        raise InvalidValue(
            "invalid", _("This is not a phone number; write it with its country code, e.g. +352.")
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue(
            "invalid", _("This phone number does not exist; check its digits and country code.")
        )
    if mobile and phonenumbers.number_type(number) not in _SMS_CAPABLE_TYPES:
        raise InvalidValue(
            "not_mobile",
            _("This is not a mobile phone number; text messages need a mobile number."),
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_company_number(text: str) -> str:
    """`b 123 456` → `B123456`; spaces are how people copy it from an extract."""
    value = "".join(text[:32].split()).upper()
    if not _COMPANY_NUMBER.fullmatch(value):
        raise InvalidValue(
            "invalid", _("A company number is a letter and 1 to 6 digits, e.g. B123456.")
        )
    return value


def parse_uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise InvalidValue("invalid", _("This is not a valid identifier.")) from None


def parse_national_id(text: str) -> NationalId:
    try:
        return validate_national_id(text)
    except InvalidNationalId as error:
        raise InvalidValue(error.reason, error.message) from None


def parse_language_code(text: str) -> Language:
    """fr, de or en, exactly (a tag like `en-GB` is an Accept-Language matter, not a field)."""
    language = parse_language(text) if text.strip().lower() in ("fr", "de", "en") else None
    if language is None:
        raise InvalidValue("unsupported", _("Choose fr, de or en."))
    return language


def check(errors: FieldErrors, field: str, parse: Callable[[str], T], text: str) -> T | None:
    """Parse `text` for `field`, or record why not and return None."""
    try:
        return parse(text)
    except InvalidValue as error:
        errors.add(field, error.reason, error.message)
        return None
