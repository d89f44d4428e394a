"""The synthetic registers: deterministic for a seed, and consistent like real ones."""

from __future__ import annotations

from collections import Counter
from datetime import date

from guichet_authentic_data.registers import generator as g
from guichet_authentic_data.registers.luxembourg import COMMUNES
from guichet_kit.national_id import validate_national_id
from guichet_kit.values import parse_company_number


def _all(seed: int, persons: int) -> g.Batch:
    merged = g.Batch()
    for batch in g.generate(seed, persons, batch_size=500):
        for name in (
            "persons",
            "licences",
            "tax_credits",
            "companies",
            "directors",
            "vat_accounts",
        ):
            getattr(merged, name).extend(getattr(batch, name))
    return merged


def _rows(rows: list[tuple[object, ...]], columns: tuple[str, ...]) -> list[dict[str, object]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_a_seed_gives_the_same_registers_and_another_seed_other_ones() -> None:
    first, again, other = _all(7, 3000), _all(7, 3000), _all(8, 3000)
    assert first == again
    assert first.persons != other.persons


def test_about_the_number_of_persons_asked_with_valid_unique_national_ids() -> None:
    persons = _rows(_all(1, 5000).persons, g.PERSON_COLUMNS)
    assert 5000 <= len(persons) < 5010
    ids = [str(p["national_id"]) for p in persons]
    assert len(set(ids)) == len(ids)
    for person in persons:
        national_id = validate_national_id(str(person["national_id"]), today=g.REFERENCE_DATE)
        assert national_id.birth_date == person["birth_date"]


def test_families_hold_together() -> None:
    persons = {p["national_id"]: p for p in _rows(_all(3, 5000).persons, g.PERSON_COLUMNS)}
    communes = {commune.name for commune in COMMUNES}
    spouses = children = 0
    for person in persons.values():
        assert person["commune"] in communes
        if person["spouse_id"]:
            spouse = persons[person["spouse_id"]]
            assert spouse["spouse_id"] == person["national_id"]
            assert spouse["household_id"] == person["household_id"]
            assert person["marital_status"] in ("married", "partnered")
            spouses += 1
        for parent_id in (person["parent1_id"], person["parent2_id"]):
            if parent_id:
                parent = persons[parent_id]
                assert parent["household_id"] == person["household_id"]
                assert parent["street"] == person["street"]
                assert isinstance(parent["birth_date"], date)
                assert isinstance(person["birth_date"], date)
                assert (person["birth_date"] - parent["birth_date"]).days > 19 * 365
                children += 1
    assert spouses > 1000 and children > 1000


def test_companies_have_valid_numbers_directors_from_the_register_and_vat_check_digits() -> None:
    registers = _all(5, 5000)
    persons = {row[0] for row in registers.persons}
    companies = _rows(registers.companies, g.COMPANY_COLUMNS)
    assert len(companies) > 100
    for company in companies:
        assert parse_company_number(str(company["number"])) == company["number"]
    directed = Counter(row[0] for row in registers.directors)
    assert set(directed) == {company["number"] for company in companies}
    assert all(row[1] in persons for row in registers.directors)
    for _number, vat, _balance, _period in registers.vat_accounts:
        assert isinstance(vat, str) and vat.startswith("LU") and len(vat) == 10
        assert int(vat[2:8]) % 89 == int(vat[8:])


def test_licence_points_and_tax_credits_stay_within_their_bounds() -> None:
    registers = _all(2, 3000)
    assert registers.licences and registers.tax_credits
    assert all(0 <= row[3] <= 12 for row in registers.licences)  # type: ignore[operator]
    assert all(0 < row[2] <= row[1] for row in registers.tax_credits)  # type: ignore[operator]
