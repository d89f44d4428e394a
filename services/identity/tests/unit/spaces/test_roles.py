import pytest

from guichet_identity.relations.rights import DOMAINS, SPACE_MANAGE
from guichet_identity.spaces.roles import CollaboratorRole, role_grants


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_reader_reads_every_domain_and_writes_none(domain: str) -> None:
    assert role_grants(CollaboratorRole.READER, f"{domain}:read")
    assert not role_grants(CollaboratorRole.READER, f"{domain}:write")


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_member_reads_and_writes_every_domain(domain: str) -> None:
    assert role_grants(CollaboratorRole.MEMBER, f"{domain}:read")
    assert role_grants(CollaboratorRole.MEMBER, f"{domain}:write")


def test_only_an_administrator_manages_the_space() -> None:
    assert role_grants(CollaboratorRole.ADMINISTRATOR, SPACE_MANAGE)
    assert role_grants(CollaboratorRole.ADMINISTRATOR, "procedures:write")
    assert not role_grants(CollaboratorRole.MEMBER, SPACE_MANAGE)
    assert not role_grants(CollaboratorRole.READER, SPACE_MANAGE)


def test_no_role_grants_a_right_outside_the_vocabulary() -> None:
    assert not any(role_grants(role, "bank:read") for role in CollaboratorRole)
