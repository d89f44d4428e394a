"""Collaborator roles in a professional space and the rights each carries when acting for it."""

from __future__ import annotations

from enum import StrEnum

from guichet_identity.relations.rights import SPACE_MANAGE, Access, UnknownRight, parse_right


class CollaboratorRole(StrEnum):
    ADMINISTRATOR = "administrator"
    MEMBER = "member"
    READER = "reader"


def role_grants(role: CollaboratorRole, right: str) -> bool:
    """reader: every `*:read`; member: read and write; administrator: that and `space:manage`."""
    if right == SPACE_MANAGE:
        return role == CollaboratorRole.ADMINISTRATOR
    try:
        wanted = parse_right(right)
    except UnknownRight:
        return False
    if role == CollaboratorRole.READER:
        return wanted.access == Access.READ
    return True
