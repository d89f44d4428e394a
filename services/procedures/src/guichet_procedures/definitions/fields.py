"""Each field type's answer: what is accepted, how it is stored, and how it reads on a summary.

Answers are JSON. Stored forms (cleaning a stored value gives it back unchanged):
text-like, choice, e-mail (normalised), IBAN (compact, upper case), national id (13 digits),
company number (`B123456`), phone (E.164): a string · number: a JSON number · amount: a string
with 2 decimals ("1234.50") · date: "YYYY-MM-DD" · yes/no: a bool · multiple choice: a list of
option values in the options' order · address: {street, house_number, postcode, locality,
country} · group: a list of objects of its fields (cleaned by `form`). An empty answer (null, "",
[], {}) is no answer.

Company numbers follow the Luxembourg trade and companies register (RCS): a section letter (B for
commercial companies, A for traders, F for associations, …) and 1 to 6 digits, e.g. B123456
(`guichet_kit.values.parse_company_number`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from guichet_kit.domain import FieldErrors
from guichet_kit.i18n import LOCALES, Catalog, Language, Text
from guichet_kit.values import (
    InvalidValue,
    parse_company_number,
    parse_email,
    parse_human_text,
    parse_national_id,
    parse_phone,
)
from guichet_procedures.definitions.model import (
    AddressField,
    AmountField,
    AttachmentField,
    ChoiceField,
    CompanyNumberField,
    DateField,
    EmailField,
    Field,
    GroupField,
    IbanField,
    LongTextField,
    MultiChoiceField,
    NationalIdField,
    NumberField,
    PhoneField,
    TextField,
    YesNoField,
)

_ = Catalog("guichet_procedures")

CENT = Decimal("0.01")
MAX_AMOUNT_DIGITS = 13  # up to a hundred billion euros: beyond is a typing mistake
# Territories Babel names that are not countries of an address.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})
COUNTRIES = frozenset(
    str(code)
    for code in Locale("en").territories
    if len(str(code)) == 2 and str(code).isalpha() and code not in _NOT_COUNTRIES
)
ADDRESS_PARTS = ("street", "house_number", "postcode", "locality", "country")
_ADDRESS_LIMITS = {"street": 150, "house_number": 20, "locality": 100}
_LUXEMBOURG_POSTCODE = re.compile(r"(?:L-?)?([0-9]{4})", re.IGNORECASE)
_POSTCODE = re.compile(r"[A-Z0-9][A-Z0-9 -]{1,11}")
_AMOUNT = re.compile(r"-?[0-9]{1,13}(?:[.,][0-9]+)?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# IBAN lengths per country (the IBAN registry); an unknown country is refused.
IBAN_LENGTHS: Mapping[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")


def is_empty(raw: Any) -> bool:
    """No answer: null, an empty or blank text, an empty list or object."""
    if isinstance(raw, str):
        return not raw.strip()
    return raw is None or raw == [] or raw == {}


def clean_value(field: Field, raw: Any, path: str, errors: FieldErrors, *, today: date) -> Any:
    """The stored form of `raw` for `field`, or None when it is empty or wrong (then `errors`
    has why, at `path`). Groups are cleaned by `form`, which knows their items' conditions."""
    if is_empty(raw):
        return None
    try:
        return _clean(field, raw, path, errors, today)
    except InvalidValue as error:
        errors.add(path, error.reason, error.message)
        return None


def _clean(field: Field, raw: Any, path: str, errors: FieldErrors, today: date) -> Any:
    match field:
        case TextField() | LongTextField():
            text = _string(raw)
            if len(text) > 4 * field.max_length + 64:  # before normalising 1 MB for nothing
                raise InvalidValue("too_long", _too_long(field.max_length))
            multiline = isinstance(field, LongTextField)
            return parse_human_text(text, max_length=field.max_length, multiline=multiline) or None
        case NumberField():
            return _number(field, raw)
        case AmountField():
            return _amount(field, raw)
        case DateField():
            return _date(field, raw, today)
        case ChoiceField():
            value = _string(raw)
            if field.option(value) is None:
                raise InvalidValue("not_an_option", _("Choose one of the proposed answers."))
            return value
        case MultiChoiceField():
            return _choices(field, raw)
        case YesNoField():
            if not isinstance(raw, bool):
                raise InvalidValue("invalid", _("Answer yes or no."))
            return raw
        case AddressField():
            return _address(raw, path, errors)
        case IbanField():
            return parse_iban(_string(raw))
        case NationalIdField():
            return parse_national_id(_plain(_string(raw), 64)).value
        case CompanyNumberField():
            return parse_company_number(_plain(_string(raw), 64))
        case EmailField():
            return parse_email(_plain(_string(raw), 512))
        case PhoneField():
            return parse_phone(_plain(_string(raw), 64))
        case AttachmentField():
            return _attachment_ids(field, raw)
        case GroupField():  # pragma: no cover - `form` cleans groups item by item
            raise TypeError("groups are cleaned by form.Form")
    raise AssertionError(f"no cleaning for {field.type}")  # pragma: no cover


def _attachment_ids(field: AttachmentField, raw: Any) -> list[str]:
    """The ids of the field's files, as the attachment calls wrote them (whether each is one of
    the request's is checked by the requests' rules, which know them)."""
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise InvalidValue("invalid", _("Give the ids of the files attached to this question."))
    ids = []
    for item in raw:
        try:
            ids.append(str(uuid.UUID(item)))
        except ValueError:
            raise InvalidValue(
                "invalid", _("Give the ids of the files attached to this question.")
            ) from None
    if len(set(ids)) != len(ids):
        raise InvalidValue("duplicate", _("A file is attached once."))
    if len(ids) > field.max_files:
        raise InvalidValue(
            "too_many_files", _("At most {count} files for this question.", count=field.max_files)
        )
    return ids


def _string(raw: Any) -> str:
    if not isinstance(raw, str):
        raise InvalidValue("invalid", _("Give this answer as a text."))
    return raw


def _plain(text: str, limit: int) -> str:
    """A short code-like text: no control characters, not absurdly long."""
    if len(text) > limit:
        raise InvalidValue("too_long", _too_long(limit))
    return parse_human_text(text, max_length=limit)


def _too_long(limit: int) -> Text:
    return _("This answer is too long: at most {limit} characters.", limit=limit)


def _number(field: NumberField, raw: Any) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise InvalidValue("invalid", _("Give a number, e.g. 12."))
    number = Decimal(str(raw))
    if not number.is_finite():
        raise InvalidValue("invalid", _("Give a number, e.g. 12."))
    if field.integer and number != number.to_integral_value():
        raise InvalidValue("not_integer", _("Give a whole number, without decimals."))
    _check_range(number, field.minimum, field.maximum)
    return int(number) if number == number.to_integral_value() else float(number)


def _check_range(number: Decimal, minimum: Decimal | None, maximum: Decimal | None) -> None:
    if minimum is not None and number < minimum:
        raise InvalidValue(
            "too_small", _("Give at least {minimum}.", minimum=_plain_number(minimum))
        )
    if maximum is not None and number > maximum:
        raise InvalidValue(
            "too_large", _("Give at most {maximum}.", maximum=_plain_number(maximum))
        )


def _plain_number(number: Decimal) -> str:
    return format(number.normalize(), "f") if number == number.to_integral_value() else str(number)


def _amount(field: AmountField, raw: Any) -> str:
    """A string "1234.50"; a comma is read as the decimal mark, as people write it in fr/de."""
    text = "".join(raw.split()) if isinstance(raw, str) else None
    if text is None or not _AMOUNT.fullmatch(text):
        raise InvalidValue("invalid", _("Give an amount in euros, e.g. 1250.50."))
    amount = Decimal(text.replace(",", "."))
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_EVEN):
        raise InvalidValue("too_precise", _("Give the amount with at most 2 decimals (cents)."))
    minimum = field.minimum if field.minimum is not None else Decimal(0)
    _check_range(amount, minimum, field.maximum)
    return str(amount.quantize(CENT))


def _date(field: DateField, raw: Any, today: date) -> str:
    try:
        if not isinstance(raw, str) or not _ISO_DATE.fullmatch(raw.strip()):
            raise ValueError(raw)
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidValue(
            "invalid", _("Give a date as year-month-day, e.g. 2025-03-31.")
        ) from None
    if field.minimum is not None and day < (earliest := field.minimum.resolve(today)):
        raise InvalidValue(
            "too_early", _("Give a date on or after {date}.", date=earliest.isoformat())
        )
    if field.maximum is not None and day > (latest := field.maximum.resolve(today)):
        raise InvalidValue(
            "too_late", _("Give a date on or before {date}.", date=latest.isoformat())
        )
    return day.isoformat()


def _choices(field: MultiChoiceField, raw: Any) -> list[str] | None:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise InvalidValue("invalid", _("Give the chosen answers as a list."))
    chosen = set(raw)
    if any(field.option(value) is None for value in chosen):
        raise InvalidValue("not_an_option", _("Choose only among the proposed answers."))
    if len(chosen) < field.min_items:
        raise InvalidValue("too_few", _("Choose at least {count}.", count=field.min_items))
    if field.max_items is not None and len(chosen) > field.max_items:
        raise InvalidValue("too_many", _("Choose at most {count}.", count=field.max_items))
    return [option.value for option in field.options if option.value in chosen]


def _address(raw: Any, path: str, errors: FieldErrors) -> dict[str, str] | None:
    if not isinstance(raw, Mapping):
        raise InvalidValue(
            "invalid",
            _("Give the address as street, house number, postcode, locality and country."),
        )
    before = len(errors.errors)
    for key in raw:
        if key not in ADDRESS_PARTS:
            errors.add(f"{path}.{key}", "unknown", _("An address has no such part."))
    address: dict[str, str] = {}
    for part in ADDRESS_PARTS:
        value = raw.get(part)
        if is_empty(value):
            if part != "house_number":
                errors.add(f"{path}.{part}", "required", _ADDRESS_MISSING[part])
            continue
        try:
            address[part] = _address_part(part, _string(value), raw.get("country"))
        except InvalidValue as error:
            errors.add(f"{path}.{part}", error.reason, error.message)
    return address if len(errors.errors) == before else None


_ADDRESS_MISSING: Mapping[str, Text] = {
    "street": _("Give the street."),
    "postcode": _("Give the postcode."),
    "locality": _("Give the town or village."),
    "country": _("Give the country."),
}


def _address_part(part: str, text: str, country: Any) -> str:
    if part in _ADDRESS_LIMITS:
        return _plain(text, _ADDRESS_LIMITS[part])
    if part == "country":
        code = _plain(text, 8).upper()
        if code not in COUNTRIES:
            raise InvalidValue("invalid", _("Give the country as its two-letter code, e.g. LU."))
        return code
    postcode = _plain(text, 16).upper()
    if isinstance(country, str) and country.strip().upper() == "LU":
        match = _LUXEMBOURG_POSTCODE.fullmatch(postcode.replace(" ", ""))
        if match is None:
            raise InvalidValue(
                "invalid", _("A Luxembourg postcode has 4 digits, e.g. 1234 or L-1234.")
            )
        return match.group(1)
    if not _POSTCODE.fullmatch(postcode):
        raise InvalidValue("invalid", _("Give the postcode with letters, digits and spaces only."))
    return postcode


def parse_iban(text: str) -> str:
    """`lu28 0019 4006 4475 0000` → `LU280019400644750000`: the country's length and the
    ISO 13616 check (mod 97 of the rearranged number is 1)."""
    value = "".join(text[:64].split()).upper()
    if not _IBAN.fullmatch(value):
        raise InvalidValue(
            "invalid",
            _("An IBAN starts with 2 letters and 2 digits, e.g. LU28 0019 4006 4475 0000."),
        )
    length = IBAN_LENGTHS.get(value[:2])
    if length is None:
        raise InvalidValue("unknown_country", _("This IBAN's country code does not exist."))
    if len(value) != length:
        raise InvalidValue(
            "wrong_length", _("An IBAN of this country has {length} characters.", length=length)
        )
    rearranged = value[4:] + value[:4]
    if int("".join(str(int(c, 36)) for c in rearranged)) % 97 != 1:
        raise InvalidValue(
            "checksum", _("This IBAN's check digits do not match: check each character.")
        )
    return value


# --- reading an answer back -----------------------------------------------------------------

_YES_NO = {True: _("Yes"), False: _("No")}


def display(field: Field, value: Any, language: Language) -> str:
    """A stored answer as a person reads it on a summary or a proof, in `language`."""
    if value is None:
        return ""
    locale = LOCALES[language]
    try:
        match field:
            case ChoiceField():
                option = field.option(value)
                return option.label.text(language) if option else str(value)
            case MultiChoiceField():
                labels = [field.option(item) for item in value]
                return ", ".join(o.label.text(language) for o in labels if o is not None)
            case YesNoField():
                return _YES_NO[bool(value)].render(language)
            case DateField():
                return format_date(date.fromisoformat(value), "long", locale=locale)
            case AmountField():
                return format_currency(Decimal(value), "EUR", locale=locale)
            case NumberField():
                return format_decimal(value, locale=locale)
            case AddressField():
                country = Locale.parse(locale).territories.get(value.get("country", ""), "")
                street = " ".join(filter(None, (value.get("house_number"), value.get("street"))))
                if language != Language.EN:  # "Rue de la Gare 12" in fr/de, "12 Rue..." in en
                    street = " ".join(
                        filter(None, (value.get("street"), value.get("house_number")))
                    )
                town = " ".join(filter(None, (value.get("postcode"), value.get("locality"))))
                return ", ".join(filter(None, (street, town, country)))
            case GroupField():
                return _("{count} entries", count=len(value)).render(language)
    except (ArithmeticError, InvalidOperation, TypeError, ValueError, AttributeError):
        return str(value)  # a stored value no longer readable as its type: shown as it is
    return str(value)
