"""What a person says about a piece (title, dates) and whose a piece is, checked without I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from guichet_kit.domain import FieldError, FieldErrors, InvalidInput
from guichet_kit.i18n import LUXEMBOURG, Catalog, Language
from guichet_kit.national_id import InvalidNationalId, validate_national_id
from guichet_kit.values import InvalidValue, parse_human_text
from guichet_wallet.pieces.catalogue import PieceType

_ = Catalog("guichet_wallet")

MAX_TITLE_LENGTH = 200
MAX_PURPOSE_LENGTH = 200
# Far enough apart for any real document, close enough to refuse a typing slip like 0202-01-01.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# `company:<space id>` as identity names spaces (see guichet_kit.auth.ActingContext).
_COMPANY = re.compile(r"company:[A-Za-z0-9-]{1,64}")


def luxembourg_today() -> date:
    """Documents are dated in Luxembourg: "today" is Luxembourg's."""
    return datetime.now(LUXEMBOURG).date()


@dataclass(frozen=True, slots=True)
class PieceDetails:
    title: str
    issued_on: date | None
    expires_on: date | None


def _date(errors: FieldErrors, field: str, text: str) -> date | None:
    value = text.strip()
    if not value:
        return None
    parsed = None
    if _ISO_DATE.fullmatch(value):
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        errors.add(field, "invalid", _("Write the date as YYYY-MM-DD, e.g. 2030-06-30."))
        return None
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        errors.add(field, "out_of_range", _("This date is not plausible for a document."))
        return None
    return parsed


def piece_details(
    piece_type: PieceType,
    title: str,
    issued_on: str,
    expires_on: str,
    *,
    today: date,
    language: Language,
    title_required: bool,
) -> PieceDetails:
    """The details checked together, every wrong field at once (INVALID_PIECE). A new piece
    without a title is named after its type, in the person's language."""
    errors = FieldErrors()
    clean_title = ""
    try:
        clean_title = parse_human_text(title, max_length=MAX_TITLE_LENGTH, required=title_required)
    except InvalidValue as error:
        errors.add("title", error.reason, error.message)
    issued = _date(errors, "issued_on", issued_on)
    expires = _date(errors, "expires_on", expires_on)
    if issued is not None and issued > today:
        errors.add("issued_on", "in_future", _("A document cannot be issued in the future."))
    if expires is not None and not piece_type.expires:
        errors.add("expires_on", "not_expiring", _("This type of piece has no expiry date."))
    elif expires is not None and issued is not None and expires < issued:
        errors.add(
            "expires_on", "before_issue", _("The expiry date cannot be before the issue date.")
        )
    errors.raise_if_any("INVALID_PIECE", _("The piece has errors."))
    return PieceDetails(clean_title or piece_type.name(language), issued, expires)


class InvalidOwner(ValueError):
    """A platform service named an owner that is neither a person nor a company space."""


def parse_owner(text: str) -> str:
    """`person:<national id>` or `company:<space id>`, as a platform service names an owner."""
    value = text.strip()
    if value.startswith("person:"):
        try:
            return f"person:{validate_national_id(value.removeprefix('person:')).value}"
        except InvalidNationalId:
            raise InvalidOwner(value) from None
    if _COMPANY.fullmatch(value):
        return value
    raise InvalidOwner(value)


def owner_error(field: str = "owner") -> InvalidInput:
    message = _("The owner is person:<national id> or company:<space id>.")
    return InvalidInput("INVALID_OWNER", message, [FieldError(field, "invalid", message)])
