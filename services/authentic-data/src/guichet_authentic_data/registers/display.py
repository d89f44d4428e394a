"""Values as a person reads them, in their language: dates, amounts, addresses, people, codes."""

from __future__ import annotations

from datetime import date

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency

from guichet_authentic_data.registers.fields import Money, Value
from guichet_authentic_data.registers.records import AddressRecord, PersonRef
from guichet_kit.i18n import LOCALES, Catalog, Language, Text

_ = Catalog("guichet_authentic_data")

_SEXES: dict[str, Text] = {"F": _("female"), "M": _("male"), "X": _("unspecified")}
_MARITAL: dict[str, Text] = {
    "single": _("single"),
    "married": _("married"),
    "partnered": _("registered partnership"),
    "divorced": _("divorced"),
    "widowed": _("widowed"),
}
ROLES: dict[str, Text] = {
    "self": _("the person themselves"),
    "spouse": _("spouse or partner"),
    "child": _("child"),
    "parent": _("parent"),
    "sibling": _("brother or sister"),
    "member": _("household member"),
    "manager": _("manager"),
    "director": _("director"),
}
NOT_RECORDED = _("Not recorded")


def date_text(value: date, language: Language) -> str:
    return format_date(value, "long", locale=LOCALES[language])


def money_text(value: Money, language: Language) -> str:
    return format_currency(value.cents / 100, value.currency, locale=LOCALES[language])


def address_text(address: AddressRecord) -> str:
    return (
        f"{address.house_number}, {address.street}, L-{address.postal_code} {address.locality}"
        if address.country == "LU"
        else f"{address.house_number} {address.street}, {address.postal_code} {address.locality}"
    )


def person_name(person: PersonRef) -> str:
    return f"{person.given_names} {person.surname}"


def role_text(role: str, language: Language) -> str:
    text = ROLES.get(role)
    return text.render(language) if text else role


def country_text(code: str, language: Language) -> str:
    territories = Locale.parse(LOCALES[language]).territories
    return str(territories.get(code, code))


def value_text(name: str, value: Value | None, language: Language) -> str:
    """The value of field `name` written for a person to read."""
    if value is None or value == ():
        return NOT_RECORDED.render(language)
    if isinstance(value, Money):
        return money_text(value, language)
    if isinstance(value, date):
        return date_text(value, language)
    if isinstance(value, AddressRecord):
        return address_text(value)
    if isinstance(value, tuple):
        return "; ".join(
            f"{person_name(person)} ({role_text(person.role, language)}, "
            f"{date_text(person.birth_date, language)})"
            for person in value
        )
    if isinstance(value, int):
        return str(value)
    if name == "person.sex" and value in _SEXES:
        return _SEXES[value].render(language)
    if name == "person.marital_status" and value in _MARITAL:
        return _MARITAL[value].render(language)
    if name == "person.nationality":
        return country_text(value, language)
    return value
