"""What no request may hold, refused by the kit before any servicer runs, naming the field and
never repeating the value."""

import pytest

from guichet.identity.v1 import identity_pb2 as pb
from guichet_kit.domain import InvalidInput
from guichet_kit.grpc_server import MAX_LIST_ITEMS, MAX_STRING_LENGTH, check_request


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (pb.RegisterRequest(first_name="An\x00ne"), "first_name"),
        (pb.UpdateProfileRequest(address=pb.Address(street="Rue\x00")), "address.street"),
        (pb.GrantMandateRequest(rights=["etracking:read", "x\x00"]), "rights"),
    ],
)
def test_a_nul_character_anywhere_is_bad_input_naming_its_field(
    message: object, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_request(message)  # type: ignore[arg-type]
    assert refused.value.reason == "INVALID_CHARACTER"
    assert [error.field for error in refused.value.fields] == [field]


def test_an_unbounded_string_is_refused_without_being_echoed() -> None:
    huge = "etracking:" + "r" * MAX_STRING_LENGTH
    with pytest.raises(InvalidInput) as refused:
        check_request(pb.GrantMandateRequest(rights=[huge]))
    assert refused.value.reason == "TEXT_TOO_LONG"
    assert [error.field for error in refused.value.fields] == ["rights"]
    assert "rrrr" not in str(refused.value)


def test_a_list_beyond_the_bound_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_request(pb.GrantMandateRequest(rights=["etracking:read"] * (MAX_LIST_ITEMS + 1)))
    assert refused.value.reason == "REQUEST_TOO_LARGE"


def test_ordinary_text_passes() -> None:
    check_request(pb.RegisterRequest(first_name="Léa-Marie", last_name="Müller"))
