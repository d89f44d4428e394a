"""What identity asks of the administrations' registers: who a person's children are, who runs a
company. The rules check declarations against these answers (a declared child, a company space's
founder); `authentic_data.AuthenticDataRegisters` asks the authentic-data service, purpose-bound,
so each read shows in the person's access log.
"""

from __future__ import annotations

from typing import Protocol

from guichet_kit.domain import Unavailable
from guichet_kit.i18n import Catalog

_ = Catalog("guichet_identity")


class Registers(Protocol):
    async def children_of(self, national_id: str, request_reference: str) -> frozenset[str] | None:
        """National ids of the person's children in the national register; None when the
        register has no entry for the person."""
        ...

    async def directors_of(
        self, company_number: str, request_reference: str
    ) -> frozenset[str] | None:
        """National ids of the company's managers and directors in the trade and companies
        register; None when the register has no entry for the company."""
        ...


def registers_unavailable() -> Unavailable:
    return Unavailable(
        "REGISTERS_UNAVAILABLE",
        _("The registers cannot be reached to check this; nothing was saved. Try again shortly."),
    )
