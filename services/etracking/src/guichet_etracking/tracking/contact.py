"""Opting in to eTracking notifications: the channels, their addresses and the language."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from guichet_kit.domain import FieldError, InvalidInput
from guichet_kit.i18n import Catalog, Language
from guichet_kit.values import InvalidValue, parse_email, parse_language_code, parse_phone

__all__ = [
    "InvalidContact",
    "Language",
    "NotificationChoice",
    "notification_choice",
    "validate_email",
    "validate_mobile",
]

_ = Catalog("guichet_etracking")


class InvalidContact(InvalidInput):
    """One or more opt-in fields are wrong; `fields` lists every one of them at once."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        if not errors:
            raise ValueError("InvalidContact needs at least one field error")
        super().__init__("INVALID_TRACKING_REQUEST", _("The tracking request has errors."), errors)

    @property
    def field(self) -> str:
        """The first field in error (the only one for single-field validations)."""
        return self.fields[0].field

    def __str__(self) -> str:
        return "; ".join(f"{error.field}: {error.message}" for error in self.fields)


def validate_email(text: str) -> str:
    """The normalised address (domain lower-cased, Unicode NFC); no DNS lookup."""
    try:
        return parse_email(text)
    except InvalidValue as error:
        raise InvalidContact([FieldError("email", error.reason, error.message)]) from None


def validate_mobile(text: str, default_region: str = "LU") -> str:
    """The number in E.164 (`+352621123456`); it must be able to receive an SMS."""
    try:
        return parse_phone(text, mobile=True, region=default_region)
    except InvalidValue as error:
        raise InvalidContact([FieldError("phone", error.reason, error.message)]) from None


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
    errors: list[FieldError] = []
    email = (email or "").strip() or None
    phone = (phone or "").strip() or None

    if notify_by_email and email is None:
        errors.append(
            FieldError(
                "email", "required", _("Enter the e-mail address to notify, or untick e-mail.")
            )
        )
    elif not notify_by_email and email is not None:
        errors.append(
            FieldError(
                "email", "not_chosen", _("An e-mail address was given but e-mail was not chosen.")
            )
        )
    elif email is not None:
        try:
            email = validate_email(email)
        except InvalidContact as error:
            errors.extend(error.fields)

    if notify_by_sms and phone is None:
        errors.append(
            FieldError("phone", "required", _("Enter the mobile number to notify, or untick SMS."))
        )
    elif not notify_by_sms and phone is not None:
        errors.append(
            FieldError("phone", "not_chosen", _("A phone number was given but SMS was not chosen."))
        )
    elif phone is not None:
        try:
            phone = validate_mobile(phone)
        except InvalidContact as error:
            errors.extend(error.fields)

    chosen_language: Language | None = None
    try:
        chosen_language = parse_language_code(language)
    except InvalidValue as error:
        errors.append(FieldError("language", error.reason, error.message))

    if errors or chosen_language is None:
        raise InvalidContact(errors)
    return NotificationChoice(email=email, phone=phone, language=chosen_language)
