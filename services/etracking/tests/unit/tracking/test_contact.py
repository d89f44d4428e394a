import pytest

from guichet_etracking.tracking.contact import (
    InvalidContact,
    Language,
    NotificationChoice,
    notification_choice,
    validate_email,
    validate_mobile,
)


def test_an_email_address_is_normalised() -> None:
    assert validate_email("  Anne.Muller@EXAMPLE.LU ") == "Anne.Muller@example.lu"


@pytest.mark.parametrize(
    "text", ["anne", "anne@", "@example.lu", "anne@@example.lu", "anne muller@example.lu"]
)
def test_a_bad_email_address_is_refused(text: str) -> None:
    with pytest.raises(InvalidContact, match="not a valid e-mail address") as refused:
        validate_email(text)
    assert refused.value.field == "email"
    assert refused.value.fields[0].field == "email"


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("621 123 456", "+352621123456"),
        ("+352 691 234 567", "+352691234567"),
        ("00352 628 123 456", "+352628123456"),
        ("+49 151 23456789", "+4915123456789"),
        ("+1 201-555-0123", "+12015550123"),  # fixed line or mobile: cannot tell, accepted
    ],
)
def test_a_mobile_number_is_returned_in_e164(text: str, e164: str) -> None:
    assert validate_mobile(text) == e164


def test_a_number_without_country_code_uses_the_default_region() -> None:
    assert validate_mobile("0151 23456789", default_region="DE") == "+4915123456789"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "not a phone number"),
        ("call me", "not a phone number"),
        ("+352 12", "does not exist"),
        ("+352 27 12 34 56", "not a mobile phone number"),
        ("+49 30 123456", "not a mobile phone number"),
    ],
)
def test_a_bad_or_landline_number_is_refused(text: str, why: str) -> None:
    with pytest.raises(InvalidContact, match=why) as refused:
        validate_mobile(text)
    assert refused.value.field == "phone"


def test_both_channels_are_chosen_with_their_addresses() -> None:
    choice = notification_choice(True, "anne@example.lu", True, "621123456", "de")
    assert choice == NotificationChoice("anne@example.lu", "+352621123456", Language.DE)
    assert choice.notify_by_email
    assert choice.notify_by_sms


def test_no_channel_means_lookup_by_number_only() -> None:
    choice = notification_choice(False, None, False, "  ", "FR")
    assert choice == NotificationChoice(None, None, Language.FR)
    assert not choice.notify_by_email
    assert not choice.notify_by_sms


@pytest.mark.parametrize(
    ("kwargs", "field", "why"),
    [
        ({"notify_by_email": True, "email": None}, "email", "Enter the e-mail address"),
        ({"notify_by_email": True, "email": "  "}, "email", "Enter the e-mail address"),
        ({"notify_by_email": False, "email": "anne@example.lu"}, "email", "not chosen"),
        ({"notify_by_email": True, "email": "anne@"}, "email", "not a valid e-mail"),
        ({"notify_by_sms": True, "phone": None}, "phone", "Enter the mobile number"),
        ({"notify_by_sms": False, "phone": "621123456"}, "phone", "not chosen"),
        ({"notify_by_sms": True, "phone": "27123456"}, "phone", "not a mobile"),
        ({"language": "lb"}, "language", "fr, de or en"),
        ({"language": ""}, "language", "fr, de or en"),
    ],
)
def test_each_bad_field_is_reported(kwargs: dict[str, object], field: str, why: str) -> None:
    arguments: dict[str, object] = {
        "notify_by_email": False,
        "email": None,
        "notify_by_sms": False,
        "phone": None,
        "language": "en",
    } | kwargs
    with pytest.raises(InvalidContact) as refused:
        notification_choice(**arguments)  # type: ignore[arg-type]
    assert len(refused.value.fields) == 1
    assert refused.value.field == field
    assert why in str(refused.value.fields[0].message)


def test_every_field_error_is_reported_at_once() -> None:
    with pytest.raises(InvalidContact) as refused:
        notification_choice(True, "not-an-address", True, None, "it")
    assert [error.field for error in refused.value.fields] == ["email", "phone", "language"]
    assert "email:" in str(refused.value)
    assert "language:" in str(refused.value)
