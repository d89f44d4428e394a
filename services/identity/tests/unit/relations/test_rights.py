import pytest

from guichet_identity.relations.rights import (
    ALL_RIGHTS,
    DOMAINS,
    SPACE_MANAGE,
    UnknownRight,
    grants,
    is_known_right,
    parse_right,
    parse_rights,
)


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_domain_has_a_read_and_a_write_right(domain: str) -> None:
    assert str(parse_right(f"{domain}:read")) == f"{domain}:read"
    assert str(parse_right(f"{domain}:write")) == f"{domain}:write"


@pytest.mark.parametrize(
    "text", ["", "wallet", "wallet:", "wallet:delete", "bank:read", "space:manage", "Wallet:read"]
)
def test_a_right_outside_the_vocabulary_is_refused(text: str) -> None:
    with pytest.raises(UnknownRight):
        parse_right(text)


def test_rights_are_kept_once_in_a_stable_order() -> None:
    rights = parse_rights(["wallet:write", "etracking:read", "wallet:write"])

    assert [str(right) for right in rights] == ["etracking:read", "wallet:write"]


def test_one_unknown_right_refuses_the_whole_list() -> None:
    with pytest.raises(UnknownRight):
        parse_rights(["wallet:read", "wallet:own"])


def test_write_implies_read_of_the_same_domain() -> None:
    assert grants(["procedures:write"], "procedures:read")
    assert grants(["procedures:write"], "procedures:write")


def test_read_does_not_imply_write() -> None:
    assert not grants(["procedures:read"], "procedures:write")


def test_a_right_on_one_domain_grants_nothing_on_another() -> None:
    assert not grants(["wallet:write"], "messaging:read")


def test_a_mandate_never_grants_space_management() -> None:
    assert not grants([str(right) for right in ALL_RIGHTS], SPACE_MANAGE)


def test_a_stored_right_retired_from_the_vocabulary_grants_nothing() -> None:
    assert not grants(["archive:write"], "wallet:read")


def test_space_management_can_be_asked_about() -> None:
    assert is_known_right(SPACE_MANAGE)
    assert is_known_right("data:read")
    assert not is_known_right("data:erase")
