"""F50, F52 to F54: a person's register entry, points and tax credit; each value with its source and
the moment it was read; each read logged as the person's own."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet_authentic_data.access import service as access
from guichet_authentic_data.access.purposes import CITIZEN_COMPANY
from guichet_authentic_data.api.citizen import MyDataServicer
from guichet_authentic_data.registers.fields import Money, fields_of
from guichet_authentic_data.registers.loader import CompanyEntry, enter_company
from guichet_authentic_data.registers.repository import SyntheticRegisters
from guichet_authentic_data.registers.sources import SourceCode
from guichet_kit.auth import ActingContext
from guichet_kit.db import transaction
from guichet_kit.i18n import Language, set_language

from .conftest import ANNE, BOB, LEA, NO_CONTEXT, NOBODY, PAUL, a_citizen, log_entries, refusal


def by_name(fields: list[pb.DataField]) -> dict[str, pb.DataField]:
    return {field.name: field for field in fields}


async def test_my_register_entry_shows_identity_address_and_household_with_sources(
    my_data: MyDataServicer, family: None, signed_in, sessions: async_sessionmaker[AsyncSession]
) -> None:
    signed_in(a_citizen(ANNE))
    set_language(Language.EN)

    reply = await my_data.GetMyRegisterEntry(pb.GetMyRegisterEntryRequest(), NO_CONTEXT)

    fields = by_name(list(reply.fields))
    assert reply.national_id == ANNE
    assert fields["person.surname"].text == "Muller"
    assert fields["person.birth_date"].date == "1980-01-01"
    assert fields["person.address"].address.postal_code == "1611"
    assert fields["person.address"].display == "12, rue de la Gare, L-1611 Luxembourg"
    assert fields["person.marital_status"].display == "married"
    assert [p.national_id for p in fields["person.spouse"].people.people] == [PAUL]
    household = {p.national_id: p.role for p in fields["person.household"].people.people}
    assert household == {ANNE: "self", PAUL: "spouse", LEA: "child"}
    assert [p.national_id for p in fields["person.children"].people.people] == [LEA]
    for field in reply.fields:
        assert field.source.code == "national-register"
        assert field.source.name == "National register of natural persons"
        assert field.source.read_at.seconds > 0
    [entry] = await log_entries(sessions)
    assert (entry.subject, entry.accessor_kind, entry.accessor) == (f"person:{ANNE}", "self", ANNE)
    assert entry.purpose == "citizen:self"
    assert list(entry.fields) == [field.name for field in reply.fields]


async def test_labels_and_values_speak_the_callers_language(
    my_data: MyDataServicer, family: None, signed_in
) -> None:
    signed_in(a_citizen(ANNE))
    set_language(Language.DE)

    reply = await my_data.GetMyRegisterEntry(pb.GetMyRegisterEntryRequest(), NO_CONTEXT)

    fields = by_name(list(reply.fields))
    assert fields["person.birth_date"].label == "Geburtsdatum"
    assert fields["person.birth_date"].display == "1. Januar 1980"
    assert fields["person.nationality"].display == "Luxemburg"
    assert fields["person.surname"].source.name == "Nationales Register der natürlichen Personen"


async def test_points_and_tax_credit_come_from_their_own_registers(
    my_data: MyDataServicer, family: None, signed_in
) -> None:
    signed_in(a_citizen(ANNE))
    set_language(Language.EN)

    points = by_name(
        list(
            (
                await my_data.GetMyDrivingLicencePoints(
                    pb.GetMyDrivingLicencePointsRequest(), NO_CONTEXT
                )
            ).fields
        )
    )
    credit = by_name(
        list((await my_data.GetMyTaxCredit(pb.GetMyTaxCreditRequest(), NO_CONTEXT)).fields)
    )

    assert points["driving_licence.points"].integer == 9
    assert points["driving_licence.points"].source.code == "driving-licences"
    assert points["driving_licence.points"].source.administration == "snca"
    assert credit["tax_credit.used"].money.amount_cents == 1_250_000
    assert credit["tax_credit.remaining"].money.amount_cents == 3_000_000 - 1_250_000
    assert credit["tax_credit.remaining"].display == "€17,500.00"
    assert credit["tax_credit.used"].source.code == "tax-credits"


async def test_a_person_without_a_licence_is_told_so_and_nothing_is_logged(
    my_data: MyDataServicer, family: None, signed_in, sessions: async_sessionmaker[AsyncSession]
) -> None:
    signed_in(a_citizen(BOB))

    refused = await refusal(
        my_data.GetMyDrivingLicencePoints(pb.GetMyDrivingLicencePointsRequest(), NO_CONTEXT)
    )

    assert (refused.code, refused.reason) == (
        grpc.StatusCode.NOT_FOUND,
        "DRIVING_LICENCE_NOT_FOUND",
    )
    assert await log_entries(sessions) == []


async def test_someone_not_in_the_register_gets_not_found_and_no_log_entry(
    my_data: MyDataServicer, family: None, signed_in, counts
) -> None:
    signed_in(a_citizen(NOBODY))
    before = await counts()

    refused = await refusal(my_data.GetMyRegisterEntry(pb.GetMyRegisterEntryRequest(), NO_CONTEXT))

    assert refused.reason == "REGISTER_ENTRY_NOT_FOUND"
    assert await counts() == before


async def test_company_views_are_refused_outside_a_company_context(
    my_data: MyDataServicer, family: None, signed_in, counts
) -> None:
    signed_in(a_citizen(ANNE))
    before = await counts()

    refused = await refusal(my_data.GetMyVatBalance(pb.GetMyVatBalanceRequest(), NO_CONTEXT))

    assert (refused.code, refused.reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "ACTING_CONTEXT_NOT_ALLOWED",
    )
    assert await counts() == before


async def test_a_persons_views_are_refused_in_a_company_context(
    my_data: MyDataServicer, family: None, signed_in, counts
) -> None:
    signed_in(a_citizen(ANNE), ActingContext("company", "space-1"))
    before = await counts()

    refused = await refusal(my_data.GetMyRegisterEntry(pb.GetMyRegisterEntryRequest(), NO_CONTEXT))

    assert refused.reason == "ACTING_CONTEXT_NOT_ALLOWED"
    assert await counts() == before


async def test_without_signing_in_nothing_is_read(
    my_data: MyDataServicer, family: None, counts
) -> None:
    before = await counts()

    refused = await refusal(my_data.GetMyRegisterEntry(pb.GetMyRegisterEntryRequest(), NO_CONTEXT))

    assert (refused.code, refused.reason) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "AUTHENTICATION_REQUIRED",
    )
    assert await counts() == before


async def test_a_companys_entry_and_vat_account_are_read_for_its_space_and_logged(
    family: None, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The rules behind GetMyCompanyEntry and GetMyVatBalance, once identity has said which
    company the space is for (that exchange is the acting-context tests' business)."""
    async with transaction(sessions) as session:
        await enter_company(
            session,
            CompanyEntry(
                "B654321",
                "Schmit Bau SA",
                "SA",
                directors=((PAUL, "director"),),
                vat_balance_cents=-12_345,
            ),
        )
    company = access.Subject("company", "B654321")
    async with transaction(sessions) as session:
        registers = SyntheticRegisters(session)
        entry = await access.read_for_purpose(
            session,
            registers,
            purpose=CITIZEN_COMPANY,
            subject=company,
            fields=list(fields_of(SourceCode.COMPANY_REGISTER)),
            reader=access.Reader("self", PAUL),
            required=SourceCode.COMPANY_REGISTER,
        )
        vat = await access.read_for_purpose(
            session,
            registers,
            purpose=CITIZEN_COMPANY,
            subject=company,
            fields=list(fields_of(SourceCode.VAT_ACCOUNTS)),
            reader=access.Reader("self", PAUL),
            required=SourceCode.VAT_ACCOUNTS,
        )

    values = {value.spec.name: value.value for value in entry.values + vat.values}
    assert values["company.name"] == "Schmit Bau SA"
    directors = values["company.directors"]
    assert isinstance(directors, tuple) and directors[0].national_id == PAUL
    balance = values["vat.balance"]
    assert isinstance(balance, Money) and balance.cents == -12_345
    assert {value.source.code for value in vat.values} == {SourceCode.VAT_ACCOUNTS}
    assert [e.subject for e in await log_entries(sessions)] == ["company:B654321"] * 2


async def test_a_company_without_a_vat_account_is_told_so_and_nothing_is_logged(
    family: None, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessions) as session:
        await enter_company(session, CompanyEntry("B777", directors=((PAUL, "manager"),)))

    with pytest.raises(access.VatAccountNotFound):
        async with transaction(sessions) as session:
            await access.read_for_purpose(
                session,
                SyntheticRegisters(session),
                purpose=CITIZEN_COMPANY,
                subject=access.Subject("company", "B777"),
                fields=["vat.balance"],
                reader=access.Reader("self", PAUL),
                required=SourceCode.VAT_ACCOUNTS,
            )
    assert await log_entries(sessions) == []
