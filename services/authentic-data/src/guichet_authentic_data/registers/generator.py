"""The synthetic registers, generated household by household: deterministic for a seed.

Households are single adults, couples (married or partnered) with or without children, and
single parents; everyone in one gets the same address in one of Luxembourg's communes. Adults may
hold a driving licence, may have used part of their tax credit, and some run a company (with a
co-director from a neighbouring household), most companies with a VAT account. National ids are
valid (birth date, a sequence unique per birth date, Luhn and Verhoeff digits).

The rows come out in batches, as tuples in the loader's column order, so 1M persons are streamed
to the database without being held in memory.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from guichet_authentic_data.registers import luxembourg as lu
from guichet_kit.national_id import make_national_id

# "Today" for the generated data: fixed, so a seed gives the same registers whenever it runs.
REFERENCE_DATE = date(2025, 6, 30)
TAX_CREDIT_CEILING_CENTS = 3_000_000  # 30 000 € per person

PERSON_COLUMNS = (
    "national_id", "given_names", "surname", "birth_date", "birth_place", "sex", "nationality",
    "street", "house_number", "postal_code", "locality", "commune", "country", "marital_status",
    "household_id", "spouse_id", "parent1_id", "parent2_id",
)  # fmt: skip
LICENCE_COLUMNS = ("national_id", "number", "categories", "points", "valid_until")
TAX_CREDIT_COLUMNS = ("national_id", "ceiling_cents", "used_cents")
COMPANY_COLUMNS = (
    "number", "name", "legal_form", "street", "house_number", "postal_code", "locality",
    "commune", "country", "registered_on",
)  # fmt: skip
DIRECTOR_COLUMNS = ("company_number", "national_id", "role")
VAT_COLUMNS = ("company_number", "vat_number", "balance_cents", "last_return_period")

Row = tuple[object, ...]


@dataclass
class Batch:
    persons: list[Row] = field(default_factory=list)
    licences: list[Row] = field(default_factory=list)
    tax_credits: list[Row] = field(default_factory=list)
    companies: list[Row] = field(default_factory=list)
    directors: list[Row] = field(default_factory=list)
    vat_accounts: list[Row] = field(default_factory=list)


def vat_number(base: int) -> str:
    """Luxembourg's VAT number: LU, six digits and their remainder modulo 89 as two digits."""
    return f"LU{base:06d}{base % 89:02d}"


@dataclass
class _Address:
    street: str
    house_number: str
    postal_code: str
    locality: str
    commune: str


class _Generator:
    def __init__(self, seed: int, reference: date) -> None:
        self.rng = random.Random(seed)
        self.reference = reference
        self.sequences: dict[date, int] = {}
        self.households = itertools.count(1)
        self.companies = itertools.count(0)
        self.licences = itertools.count(100_001)
        self.recent_adults: deque[str] = deque(maxlen=50)
        self.commune_weights = list(itertools.accumulate(commune.weight for commune in lu.COMMUNES))
        self.nationality_weights = list(itertools.accumulate(n[1] for n in lu.NATIONALITIES))
        self.form_weights = list(itertools.accumulate(form[1] for form in lu.LEGAL_FORMS))
        self.company_number = 100_000

    # ---- pieces ----

    def national_id(self, birth: date) -> str:
        sequence = self.sequences.get(birth, 0)
        if sequence > 999:  # a thousand people born on one day: move to the next day
            return self.national_id(birth + timedelta(days=1))
        self.sequences[birth] = sequence + 1
        return make_national_id(birth, sequence).value

    def birth_between(self, oldest: int, youngest: int) -> date:
        """A birth date for someone aged `youngest` to `oldest` on the reference date."""
        start = self.reference - timedelta(days=365 * oldest + oldest // 4)
        end = self.reference - timedelta(days=365 * youngest + youngest // 4)
        return start + timedelta(days=self.rng.randint(0, (end - start).days))

    def address(self) -> _Address:
        commune = self.rng.choices(lu.COMMUNES, cum_weights=self.commune_weights)[0]
        low, high = commune.postal_codes
        number = str(self.rng.randint(1, 180))
        if self.rng.random() < 0.05:
            number += "A"
        return _Address(
            self.rng.choice(lu.STREETS),
            number,
            str(self.rng.randint(low, high)),
            commune.locality,
            commune.name,
        )

    def nationality(self) -> tuple[str, tuple[str, ...]]:
        code, _weight, places = self.rng.choices(
            lu.NATIONALITIES, cum_weights=self.nationality_weights
        )[0]
        return code, places

    def birth_place(self, places: tuple[str, ...]) -> str:
        if not places or self.rng.random() < 0.3:
            return self.rng.choice(lu.COMMUNES).locality
        return self.rng.choice(places)

    def given_names(self, sex: str) -> str:
        names = lu.GIVEN_NAMES_F if sex == "F" else lu.GIVEN_NAMES_M
        first = self.rng.choice(names)
        if self.rng.random() < 0.25:
            second = self.rng.choice(names)
            if second != first:
                return f"{first} {second}"
        return first

    # ---- people ----

    def person(
        self,
        batch: Batch,
        household: int,
        address: _Address,
        *,
        birth: date,
        sex: str,
        surname: str,
        nationality: tuple[str, tuple[str, ...]],
        marital_status: str,
        parents: tuple[str | None, str | None] = (None, None),
    ) -> str:
        national_id = self.national_id(birth)
        batch.persons.append(
            (
                national_id,
                self.given_names(sex),
                surname,
                birth,
                self.birth_place(nationality[1]),
                sex,
                nationality[0],
                address.street,
                address.house_number,
                address.postal_code,
                address.locality,
                address.commune,
                "LU",
                marital_status,
                household,
                None,
                parents[0],
                parents[1],
            )
        )
        return national_id

    def adult_extras(self, batch: Batch, national_id: str, birth: date, address: _Address) -> None:
        age = (self.reference - birth).days // 365
        rng = self.rng
        if age >= 18 and rng.random() < 0.75:
            points = 12 if rng.random() < 0.8 else rng.choice((11, 10, 9, 8, 6, 4, 2, 0))
            categories = rng.choice(("B", "B", "B", "AM B", "A B", "B BE", "B C CE"))
            valid = self.reference + timedelta(days=rng.randint(30, 15 * 365))
            number = f"{next(self.licences):06d}"
            batch.licences.append((national_id, number, categories, points, valid))
        if age >= 25 and rng.random() < 0.35:
            used = rng.randint(1, TAX_CREDIT_CEILING_CENTS // 10_000) * 10_000
            batch.tax_credits.append((national_id, TAX_CREDIT_CEILING_CENTS, used))
        if age >= 23 and rng.random() < 0.06:
            self.company(batch, national_id, address)
        self.recent_adults.append(national_id)

    def company(self, batch: Batch, founder: str, address: _Address) -> None:
        rng = self.rng
        index = next(self.companies)
        self.company_number += rng.randint(1, 9)
        number = f"B{self.company_number}"
        form = rng.choices(lu.LEGAL_FORMS, cum_weights=self.form_weights)[0][0]
        word = rng.choice(lu.COMPANY_WORDS)
        name = (
            f"{rng.choice(lu.SURNAMES)} {word} {form}"
            if rng.random() < 0.6
            else f"{word} {address.locality} {form}"
        )
        office = address if rng.random() < 0.3 else self.address()
        registered = date(rng.randint(1965, self.reference.year - 1), rng.randint(1, 12), 1)
        batch.companies.append(
            (
                number,
                name,
                form,
                office.street,
                office.house_number,
                office.postal_code,
                office.locality,
                office.commune,
                "LU",
                registered,
            )
        )
        role = "director" if form in ("SA", "SCA") else "manager"
        batch.directors.append((number, founder, role))
        partners = [adult for adult in self.recent_adults if adult != founder]
        if partners and rng.random() < 0.4:
            batch.directors.append((number, rng.choice(partners), role))
        if rng.random() < 0.9:
            balance = rng.randint(-500_000, 2_000_000)
            period = f"{self.reference.year}-Q{rng.randint(1, (self.reference.month - 1) // 3 + 1)}"
            batch.vat_accounts.append((number, vat_number(100_000 + index), balance, period))

    def household(self, batch: Batch) -> None:
        rng = self.rng
        household = next(self.households)
        address = self.address()
        nationality = self.nationality()
        kind = rng.random()
        if kind < 0.30:  # a single adult
            birth = self.birth_between(90, 20)
            sex = "X" if rng.random() < 0.001 else rng.choice("FM")
            age = (self.reference - birth).days // 365
            status = rng.choices(
                ("single", "divorced", "widowed"), weights=(60, 25, 15 if age >= 60 else 2)
            )[0]
            adult = self.person(
                batch,
                household,
                address,
                birth=birth,
                sex=sex,
                surname=rng.choice(lu.SURNAMES),
                nationality=nationality,
                marital_status=status,
            )
            self.adult_extras(batch, adult, birth, address)
            return
        if kind < 0.40:  # a single parent
            parent_birth = self.birth_between(60, 24)
            sex = "F" if rng.random() < 0.8 else "M"
            surname = rng.choice(lu.SURNAMES)
            parent = self.person(
                batch,
                household,
                address,
                birth=parent_birth,
                sex=sex,
                surname=surname,
                nationality=nationality,
                marital_status=rng.choice(("single", "divorced")),
            )
            self.adult_extras(batch, parent, parent_birth, address)
            self.children(
                batch, household, address, nationality, surname, parent_birth, (parent, None)
            )
            return
        # A couple, with children in most of them.
        first_birth = self.birth_between(85, 22)
        second_birth = first_birth + timedelta(days=rng.randint(-8 * 365, 8 * 365))
        second_birth = min(second_birth, self.reference - timedelta(days=20 * 365))
        same_sex = rng.random() < 0.02
        first_sex = rng.choice("FM")
        second_sex = first_sex if same_sex else ("M" if first_sex == "F" else "F")
        status = "married" if rng.random() < 0.65 else "partnered"
        first_surname = rng.choice(lu.SURNAMES)
        second_surname = first_surname if rng.random() < 0.3 else rng.choice(lu.SURNAMES)
        second_nationality = nationality if rng.random() < 0.8 else self.nationality()
        first = self.person(
            batch,
            household,
            address,
            birth=first_birth,
            sex=first_sex,
            surname=first_surname,
            nationality=nationality,
            marital_status=status,
        )
        second = self.person(
            batch,
            household,
            address,
            birth=second_birth,
            sex=second_sex,
            surname=second_surname,
            nationality=second_nationality,
            marital_status=status,
        )
        # The spouses name each other (columns 15: spouse_id).
        batch.persons[-2] = (*batch.persons[-2][:15], second, *batch.persons[-2][16:])
        batch.persons[-1] = (*batch.persons[-1][:15], first, *batch.persons[-1][16:])
        self.adult_extras(batch, first, first_birth, address)
        self.adult_extras(batch, second, second_birth, address)
        if kind < 0.75:
            younger = max(first_birth, second_birth)
            self.children(
                batch, household, address, nationality, first_surname, younger, (first, second)
            )

    def children(
        self,
        batch: Batch,
        household: int,
        address: _Address,
        nationality: tuple[str, tuple[str, ...]],
        surname: str,
        parent_birth: date,
        parents: tuple[str | None, str | None],
    ) -> None:
        rng = self.rng
        earliest = max(
            parent_birth + timedelta(days=20 * 365), self.reference - timedelta(days=25 * 365)
        )
        latest = min(parent_birth + timedelta(days=44 * 365), self.reference)
        if earliest >= latest:
            return
        for _ in range(rng.choices((1, 2, 3, 4), weights=(40, 40, 15, 5))[0]):
            birth = earliest + timedelta(days=rng.randint(0, (latest - earliest).days))
            child = self.person(
                batch,
                household,
                address,
                birth=birth,
                sex=rng.choice("FM"),
                surname=surname,
                nationality=nationality,
                marital_status="single",
                parents=parents,
            )
            self.adult_extras(batch, child, birth, address)


def generate(
    seed: int, persons: int, *, reference: date = REFERENCE_DATE, batch_size: int = 20_000
) -> Iterator[Batch]:
    """Households until `persons` people exist (the last household may pass it by a few)."""
    generator = _Generator(seed, reference)
    made = 0
    batch = Batch()
    while made < persons:
        before = len(batch.persons)
        generator.household(batch)
        made += len(batch.persons) - before
        if len(batch.persons) >= batch_size:
            yield batch
            batch = Batch()
    if batch.persons:
        yield batch
