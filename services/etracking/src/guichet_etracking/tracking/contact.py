"""Opting in to eTracking notifications: the channels, their addresses and the language."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import email_validator
import phonenumbers

ContactField = Literal["email", "phone", "language"]

# FIXED_LINE_OR_MOBILE: some numbering plans (e.g. US) cannot tell the two apart; an SMS may work.
_SMS_CAPABLE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


class Language(StrEnum):
    FR = "fr"
    DE = "de"
    EN = "en"


_LANGUAGES = {language.value: language for language in Language}


class InvalidContact(ValueError):
    """One or more opt-in fields are wrong; ``errors`` lists every (field, message) at once."""

    def __init__(self, errors: Sequence[tuple[ContactField, str]]) -> None:
        if not errors:
            raise ValueError("InvalidContact needs at least one field error")
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors))
        self.errors: list[tuple[ContactField, str]] = list(errors)

    @property
    def field(self) -> ContactField:
        """The first field in error (the only one for single-field validations)."""
        return self.errors[0][0]


def validate_email(text: str) -> str:
    """The normalised address (domain lower-cased, Unicode NFC); no DNS lookup."""
    try:
        checked = email_validator.validate_email(text.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        raise InvalidContact([("email", f"This is not a valid e-mail address: {error}")]) from None
    return checked.normalized


def validate_mobile(text: str, default_region: str = "LU") -> str:
    """The number in E.164 (``+352621123456``); it must be able to receive an SMS."""
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidContact(
            [("phone", "This is not a phone number; write it with its country code, e.g. +352.")]
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact(
            [("phone", "This phone number does not exist; check its digits and country code.")]
        )
    if phonenumbers.number_type(number) not in _SMS_CAPABLE_TYPES:
        raise InvalidContact(
            [("phone", "This is not a mobile phone number; text messages need a mobile number.")]
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True, slots=True)
class NotificationChoice:
    """Where and in which language to tell the user about progress; None = channel not chosen."""

    email: str | None
    phone: str | None
    language: Language

    @property
    def notify_by_email(self) -> bool:
        return self.email is not None

    @property
    def notify_by_sms(self) -> bool:
        return self.phone is not None


def notification_choice(
    notify_by_email: bool,
    email: str | None,
    notify_by_sms: bool,
    phone: str | None,
    language: str,
) -> NotificationChoice:
    """Check the opt-in form as a whole; choosing no channel is allowed (lookup by number only)."""
    errors: list[tuple[ContactField, str]] = []
    email = (email or "").strip() or None
    phone = (phone or "").strip() or None

    if notify_by_email and email is None:
        errors.append(("email", "Enter the e-mail address to notify, or untick e-mail."))
    elif not notify_by_email and email is not None:
        errors.append(("email", "An e-mail address was given but e-mail was not chosen."))
    elif email is not None:
        try:
            email = validate_email(email)
        except InvalidContact as error:
            errors.extend(error.errors)

    if notify_by_sms and phone is None:
        errors.append(("phone", "Enter the mobile number to notify, or untick SMS."))
    elif not notify_by_sms and phone is not None:
        errors.append(("phone", "A phone number was given but SMS was not chosen."))
    elif phone is not None:
        try:
            phone = validate_mobile(phone)
        except InvalidContact as error:
            errors.extend(error.errors)

    chosen_language = _LANGUAGES.get(language.strip().lower())
    if chosen_language is None:
        errors.append(("language", "Choose one of the languages fr, de or en."))

    if errors or chosen_language is None:
        raise InvalidContact(errors)
    return NotificationChoice(email=email, phone=phone, language=chosen_language)
