import pytest

from guichet.identity.v1 import identity_pb2 as pb
from guichet_kit.errors import ServiceError
from guichet_kit.grpc_server import check_request


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
    with pytest.raises(ServiceError) as refused:
        check_request(message)  # type: ignore[arg-type]
    assert refused.value.reason == "INVALID_CHARACTER"
    assert [error.field for error in refused.value.field_errors] == [field]


def test_ordinary_text_passes() -> None:
    check_request(pb.RegisterRequest(first_name="Léa-Marie", last_name="Müller"))
