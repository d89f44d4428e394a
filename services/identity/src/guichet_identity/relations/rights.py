"""The rights a mandate or a collaborator role carries: `<domain>:<read|write>`, `space:manage`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

# The platform's data domains, one per service a mandate can open to someone else.
DOMAINS = ("profile", "etracking", "procedures", "wallet", "messaging", "data")
# Managing a professional space: only its administrators, never by mandate.
SPACE_MANAGE = "space:manage"


class Access(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, order=True)
class Right:
    domain: str
    access: Access

    def __str__(self) -> str:
        return f"{self.domain}:{self.access.value}"

    def implies(self, needed: Right) -> bool:
        """Writing a domain includes reading it."""
        return self.domain == needed.domain and (
            self.access == needed.access or self.access == Access.WRITE
        )


class UnknownRight(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(f"unknown right {text!r}: expected <domain>:<read|write>")
        self.text = text


def parse_right(text: str) -> Right:
    domain, sep, access = text.strip().partition(":")
    if not sep or domain not in DOMAINS or access not in ("read", "write"):
        raise UnknownRight(text)
    return Right(domain, Access(access))


def parse_rights(texts: Iterable[str]) -> list[Right]:
    """Every right, once, in a stable order; the first unknown one is refused."""
    return sorted({parse_right(text) for text in texts})


ALL_RIGHTS: tuple[Right, ...] = tuple(
    Right(domain, access) for domain in DOMAINS for access in Access
)


def is_known_right(text: str) -> bool:
    """What a caller may ask CheckMandate about: the mandate vocabulary or `space:manage`."""
    if text == SPACE_MANAGE:
        return True
    try:
        parse_right(text)
    except UnknownRight:
        return False
    return True


def grants(granted: Iterable[str], needed: str) -> bool:
    """Whether the stored rights cover `needed` (`space:manage` is never granted by mandate)."""
    try:
        wanted = parse_right(needed)
    except UnknownRight:
        return False
    for text in granted:
        try:
            if parse_right(text).implies(wanted):
                return True
        except UnknownRight:
            continue  # a right retired from the vocabulary grants nothing
    return False
