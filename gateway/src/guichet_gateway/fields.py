"""The fields of the public API's requests: each type carries the bounds and the syntax the gateway
enforces, and the OpenAPI document shows exactly those (one constant each), so the spec refuses
what the gateway refuses. What a pattern cannot say (check digits, numbering plans, e-mail syntax,
whether a code exists) is checked by the services with the kit's value types; the field's
description says so. The bounds are the services' own.

`x-value-type` names the kit's value type a field holds: the contract tests feed every example
of the spec to that type's validator.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, WithJsonSchema
from pydantic_core import PydanticCustomError

from guichet_kit.i18n import Catalog, Text
from guichet_kit.national_id import make_national_id
from guichet_kit.values import MAX_EMAIL_LENGTH

_ = Catalog("guichet_gateway")

# A person's national identification number: 13 digits, in groups if one likes.
NATIONAL_ID_PATTERN = r"^ *(?:[0-9] *){13}$"
NATIONAL_ID_MAX_LENGTH = 32
# Examples are computed, so their check digits are right.
NATIONAL_ID_EXAMPLE = make_national_id(date(1985, 6, 12), 1).value
CHILD_NATIONAL_ID_EXAMPLE = make_national_id(date(2017, 3, 4), 2).value
# ET and nine characters, in the display (ET-XXXX-XXXX-C) or canonical form, any case.
TRACKING_NUMBER_PATTERN = r"^[Ee][Tt](?:[ -]?[0-9A-Za-z]){9}$"
TRACKING_NUMBER_MAX_LENGTH = 20
TRACKING_NUMBER_EXAMPLE = "ET-7K3M-9QX2-0"
UUID_PATTERN = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
UUID_EXAMPLE = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
# The characters people write phone numbers with; the numbering plan is the service's check.
PHONE_PATTERN = r"^[0-9 ()./+-]*$"
PHONE_MAX_LENGTH = 32
PHONE_EXAMPLE = "+352 621 123 456"
EMAIL_EXAMPLE = "anne.muller@example.lu"
# A right a mandate grants: <domain>:<read|write>.
RIGHT_PATTERN = r"^[a-z]{1,20}:(?:read|write)$"
RIGHT_MAX_LENGTH = 32
MAX_RIGHTS = 20
COMPANY_NUMBER_PATTERN = r"^[A-Za-z0-9 ]*$"
COMPANY_NUMBER_MAX_LENGTH = 20
COMPANY_NUMBER_EXAMPLE = "B123456"
PAPER_FORM_CODE_PATTERN = r"^[A-Za-z0-9-]*$"
PAPER_FORM_CODE_MAX_LENGTH = 40
PAPER_FORM_CODE_EXAMPLE = "ACD-IR-100"
COUNTRY_PATTERN = r"^(?:[A-Za-z]{2})?$"
POSTAL_CODE_PATTERN = r"^[A-Za-z0-9 -]*$"
POSTAL_CODE_MAX_LENGTH = 20
# No control or bidirectional-override character (the kit's human-text rule): shown to others,
# "Anne\u202eeciL" would read differently from what it is.
HUMAN_TEXT_PATTERN = (
    r"^[^\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$"
)
NAME_MAX_LENGTH = 100
STREET_MAX_LENGTH = 200
HOUSE_NUMBER_MAX_LENGTH = 20
LOCALITY_MAX_LENGTH = 100
COMPANY_NAME_MAX_LENGTH = 200
PASSWORD_MAX_LENGTH = 256
# The e-mail change token: what `secrets.token_urlsafe` makes.
CONFIRMATION_CODE_PATTERN = r"^[A-Za-z0-9_-]*$"
CONFIRMATION_CODE_MAX_LENGTH = 200


def _field(
    max_length: int,
    *,
    pattern: str | None = None,
    value_type: str | None = None,
    description: str | None = None,
    examples: list[Any] | None = None,
    json_format: str | None = None,
) -> Any:
    """The bound and what the document shows: the pattern `_matching` enforces, the value type."""
    extra = {"pattern": pattern, "format": json_format, "x-value-type": value_type}
    return Field(
        max_length=max_length,
        description=description,
        examples=examples,
        json_schema_extra={key: value for key, value in extra.items() if value} or None,
    )


def _matching(
    pattern: str, message: Text, *, reason: str = "format", problem: str | None = None
) -> AfterValidator:
    """Refuses a text `pattern` does not match, with a field error (`reason`, `message`) and,
    when the field has a problem reason of its own, that reason (`problem`). The whole text must
    match: Python's `$` would let a final line break through, JSON Schema's does not."""
    compiled = re.compile(pattern)
    context: dict[str, Any] = {"text": message}
    if problem:
        context["problem"] = problem

    def check(value: str) -> str:
        if compiled.fullmatch(value) is None:
            raise PydanticCustomError(reason, str(message), context)
        return value

    return AfterValidator(check)


_NATIONAL_ID_FORMAT = _("A national identification number has 13 digits.")
_CONTROL_CHARACTERS = _("Remove the invisible control characters from this text.")

NationalIdText = Annotated[
    str,
    _field(
        NATIONAL_ID_MAX_LENGTH,
        pattern=NATIONAL_ID_PATTERN,
        value_type="national-id",
        description="National identification number: 13 digits (spaces allowed between them); "
        "its two check digits are verified by the service.",
        examples=[NATIONAL_ID_EXAMPLE],
    ),
    _matching(NATIONAL_ID_PATTERN, _NATIONAL_ID_FORMAT),
]
ChildNationalIdText = Annotated[
    str,
    _field(
        NATIONAL_ID_MAX_LENGTH,
        pattern=NATIONAL_ID_PATTERN,
        value_type="national-id",
        description="The child's national identification number: 13 digits.",
        examples=[CHILD_NATIONAL_ID_EXAMPLE],
    ),
    _matching(NATIONAL_ID_PATTERN, _NATIONAL_ID_FORMAT),
]
EmailText = Annotated[
    str,
    _field(
        MAX_EMAIL_LENGTH,
        json_format="email",
        value_type="email",
        description="An e-mail address; its syntax is verified by the service.",
        examples=[EMAIL_EXAMPLE],
    ),
]


def _text_only(value: object) -> object:
    if not isinstance(value, str):
        raise PydanticCustomError(
            "datetime_type", "Give a date and time, e.g. 2030-01-31T12:00:00Z."
        )
    return value


# A JSON true or false, nothing that would pass for one (0, "yes").
Flag = StrictBool
# An RFC 3339 date-time as a JSON string, not a number of seconds.
DateTimeText = Annotated[datetime, BeforeValidator(_text_only)]

# Where an address is optional, an empty one means none, as null does (one string type, not a
# union, so an error names the field and nothing else).
OptionalEmailText = Annotated[
    str,
    Field(max_length=MAX_EMAIL_LENGTH),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "format": "email",
                    "maxLength": MAX_EMAIL_LENGTH,
                    "x-value-type": "email",
                    "examples": [EMAIL_EXAMPLE],
                },
                {"type": "string", "const": "", "description": "No address"},
            ]
        }
    ),
]

PhoneText = Annotated[
    str,
    _field(
        PHONE_MAX_LENGTH,
        pattern=PHONE_PATTERN,
        value_type="phone",
        description="A phone number, best with its country code (+352 …); the service checks "
        "that it exists (and, for SMS, that it is a mobile number). Empty: none.",
        examples=[PHONE_EXAMPLE],
    ),
    _matching(PHONE_PATTERN, _("Write a phone number with digits, spaces and + ( ) . / - only.")),
]
RightText = Annotated[
    str,
    _field(
        RIGHT_MAX_LENGTH,
        pattern=RIGHT_PATTERN,
        value_type="right",
        description="<domain>:read or <domain>:write; the service knows the domains.",
        examples=["etracking:read"],
    ),
    _matching(RIGHT_PATTERN, _("A right is written <domain>:read or <domain>:write.")),
]
CompanyNumberText = Annotated[
    str,
    _field(
        COMPANY_NUMBER_MAX_LENGTH,
        pattern=COMPANY_NUMBER_PATTERN,
        value_type="company-number",
        description="Trade and companies register number: a letter and 1 to 6 digits.",
        examples=[COMPANY_NUMBER_EXAMPLE],
    ),
    _matching(
        COMPANY_NUMBER_PATTERN, _("A company number is a letter and 1 to 6 digits, e.g. B123456.")
    ),
]
PaperFormCode = Annotated[
    str,
    _field(
        PAPER_FORM_CODE_MAX_LENGTH,
        pattern=PAPER_FORM_CODE_PATTERN,
        value_type="paper-form-code",
        description="The code printed on the paper form (GET /api/v1/etracking/paper-forms).",
        examples=[PAPER_FORM_CODE_EXAMPLE],
    ),
    _matching(
        PAPER_FORM_CODE_PATTERN, _("A paper form code has letters, digits and hyphens only.")
    ),
]
CountryCode = Annotated[
    str,
    _field(
        2,
        pattern=COUNTRY_PATTERN,
        value_type="country",
        description="ISO 3166-1 alpha-2 country code; empty with an empty address.",
        examples=["LU"],
    ),
    _matching(COUNTRY_PATTERN, _("Give the country's two-letter ISO code.")),
]
PostalCode = Annotated[
    str,
    _field(POSTAL_CODE_MAX_LENGTH, pattern=POSTAL_CODE_PATTERN, examples=["L-1234"]),
    _matching(POSTAL_CODE_PATTERN, _("This is not a postal code here.")),
]
Password = Annotated[
    str,
    _field(PASSWORD_MAX_LENGTH, description="The sign-in service's password rules apply."),
]
EmailToken = Annotated[
    str,
    _field(
        CONFIRMATION_CODE_MAX_LENGTH,
        pattern=CONFIRMATION_CODE_PATTERN,
        description="The token of the link in the confirmation e-mail.",
    ),
    _matching(CONFIRMATION_CODE_PATTERN, _("This confirmation link is not valid or has expired.")),
]


def _human_text(max_length: int, examples: list[str]) -> Any:
    return _field(
        max_length,
        pattern=HUMAN_TEXT_PATTERN,
        value_type="human-text",
        description=f"At most {max_length} characters, no control characters.",
        examples=examples,
    )


_HUMAN_TEXT = _matching(HUMAN_TEXT_PATTERN, _CONTROL_CHARACTERS, reason="control_character")
FirstName = Annotated[str, _human_text(NAME_MAX_LENGTH, ["Anne"]), _HUMAN_TEXT]
LastName = Annotated[str, _human_text(NAME_MAX_LENGTH, ["Muller"]), _HUMAN_TEXT]
ChildFirstName = Annotated[str, _human_text(NAME_MAX_LENGTH, ["Léa"]), _HUMAN_TEXT]
Street = Annotated[str, _human_text(STREET_MAX_LENGTH, ["Rue du Marché-aux-Herbes"]), _HUMAN_TEXT]
HouseNumber = Annotated[str, _human_text(HOUSE_NUMBER_MAX_LENGTH, ["12A"]), _HUMAN_TEXT]
Locality = Annotated[str, _human_text(LOCALITY_MAX_LENGTH, ["Luxembourg"]), _HUMAN_TEXT]
CompanyName = Annotated[
    str, _human_text(COMPANY_NAME_MAX_LENGTH, ["Boulangerie Muller SARL"]), _HUMAN_TEXT
]

# Path parameters: a malformed one is refused before any service is asked.
TrackingNumberPath = Annotated[
    str,
    _field(
        TRACKING_NUMBER_MAX_LENGTH,
        pattern=TRACKING_NUMBER_PATTERN,
        value_type="tracking-number",
        description="The eTracking number, as printed (ET-XXXX-XXXX-C) or without hyphens.",
        examples=[TRACKING_NUMBER_EXAMPLE],
    ),
    _matching(
        TRACKING_NUMBER_PATTERN,
        _("An eTracking number looks like ET-XXXX-XXXX-C."),
        problem="INVALID_TRACKING_NUMBER",
    ),
]
UuidPath = Annotated[
    str,
    _field(36, pattern=UUID_PATTERN, value_type="uuid", examples=[UUID_EXAMPLE]),
    _matching(UUID_PATTERN, _("This is not a valid identifier.")),
]
NationalIdPath = Annotated[
    str,
    _field(
        NATIONAL_ID_MAX_LENGTH,
        pattern=NATIONAL_ID_PATTERN,
        value_type="national-id",
        examples=[NATIONAL_ID_EXAMPLE],
    ),
    _matching(NATIONAL_ID_PATTERN, _NATIONAL_ID_FORMAT),
]
