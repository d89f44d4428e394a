"""Citizens for journeys: registered through the gateway, confirmed by e-mail, signed in; and
what the administrations' registers say about them (entered in the synthetic registers of the
authentic-data service, which identity checks children and company directors against)."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
from keycloak import KeycloakAdmin
from sqlalchemy.ext.asyncio import create_async_engine

from guichet_authentic_data.registers.loader import (
    CompanyEntry,
    PersonEntry,
    enter_company,
    enter_person,
    household_of,
)
from guichet_kit.db import session_factory, transaction
from guichet_kit.infra import postgres_url
from guichet_kit.national_id import make_national_id
from guichet_testkit import worker_name
from guichet_testkit.altcha import solved_challenge
from guichet_testkit.login import LoginAgent, Tokens
from guichet_testkit.mail import mail_links, newest_mail
from guichet_testkit.pki import issue_citizen_certificate

PASSWORD = "correct horse battery staple"


def registers_database() -> str:
    """The journeys' authentic-data database (the synthetic registers), one per test worker."""
    return f"authentic_data_e2e_{worker_name()}"


def fresh_company_number() -> str:
    return f"B{random.SystemRandom().randint(100_000, 999_999)}"


def fresh_national_id(adult: bool = True) -> str:
    """Random enough that leftovers of earlier runs never collide."""
    rng = random.SystemRandom()
    year = rng.randint(1950, 2000) if adult else date.today().year - rng.randint(2, 12)
    birth = date(year, rng.randint(1, 12), rng.randint(1, 28))
    return make_national_id(birth, rng.randint(0, 999)).value


@dataclass
class Citizen:
    email: str
    password: str
    national_id: str
    first_name: str
    last_name: str
    subject: str = ""
    tokens: dict[str, Tokens] = field(default_factory=dict)
    totp_secret: str | None = None
    certificate: tuple[Path, Path] | None = None

    def bearer(self, level: str = "low", context: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens[level].access_token}"}
        if context:
            headers["X-Acting-Context"] = context
        return headers


class Registers:
    """The synthetic registers of the authentic-data service the journeys run: what an
    administration's register would say about a test person or company, written with the
    service's own loader (each entry replaces the register's truth for its key)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    async def enter(self, *entries: PersonEntry | CompanyEntry) -> None:
        engine = create_async_engine(self.database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                for entry in entries:
                    if isinstance(entry, PersonEntry):
                        await enter_person(session, entry)
                    else:
                        await enter_company(session, entry)
        finally:
            await engine.dispose()


class Registry:
    """Registers citizens and removes their Keycloak users at the end of the test. Puts what the
    registers must say about them there first (a child, a company they run), as the platform
    checks it: tests ask for a child or a company here, never write the registers themselves."""

    def __init__(
        self,
        api: httpx.AsyncClient,
        infra: dict[str, str],
        work_dir: Path,
        *,
        registers_url: str | None = None,
    ) -> None:
        self.api = api
        self.infra = infra
        self.work_dir = work_dir
        self.registers = Registers(registers_url or postgres_url(infra, registers_database()))
        # Who is in the registers already, so that a second child keeps the first one's parent
        # entry (points, tax credit) as it was.
        self.in_registers: set[str] = set()
        self.agent = LoginAgent(
            infra["GUICHET_KEYCLOAK_ISSUER"], ca_file=Path(infra["GUICHET_CA_FILE"])
        )
        self.mail_dir = Path(infra["GUICHET_MAIL_DIR"])
        self.created: list[Citizen] = []

    def admin(self) -> KeycloakAdmin:
        return KeycloakAdmin(
            server_url=self.infra["GUICHET_KEYCLOAK_URL"],
            username=self.infra["GUICHET_KEYCLOAK_ADMIN"],
            password=self.infra["GUICHET_KEYCLOAK_ADMIN_PASSWORD"],
            realm_name="guichet",
            user_realm_name="master",
        )

    async def register(self, first_name: str = "Anne", *, confirm: bool = True) -> Citizen:
        citizen = Citizen(
            email=f"{first_name.lower()}.{uuid.uuid4().hex[:10]}@example.lu",
            password=PASSWORD,
            national_id=fresh_national_id(),
            first_name=first_name,
            last_name="Muller",
        )
        since = time.time()
        response = await self.api.post(
            "/api/v1/accounts",
            json={
                "national_id": citizen.national_id,
                "email": citizen.email,
                "password": citizen.password,
                "first_name": citizen.first_name,
                "last_name": citizen.last_name,
                "language": "en",
                "altcha": await solved_challenge(self.api),
            },
        )
        assert response.status_code == 201, response.text
        citizen.subject = response.json()["subject"]
        self.created.append(citizen)
        mail = await newest_mail(
            self.mail_dir, citizen.email, since=since, subject_contains="verify"
        )
        if confirm:
            link = next(link for link in mail_links(mail) if "key=" in link)
            await self.agent.follow_email_link(link)
            citizen.tokens["low"] = await self.agent.login(citizen.email, citizen.password)
        return citizen

    async def step_up_to_substantial(self, citizen: Citizen) -> None:
        if citizen.totp_secret is None:
            citizen.totp_secret = await self.agent.enrol_totp(citizen.email, citizen.password)
        citizen.tokens["substantial"] = await self.agent.login(
            citizen.email,
            citizen.password,
            acr_values="substantial",
            totp_secret=citizen.totp_secret,
        )

    async def step_up_to_high(self, citizen: Citizen) -> None:
        if citizen.certificate is None:
            citizen.certificate = issue_citizen_certificate(
                Path(self.infra["GUICHET_NATIONAL_CA_DIR"]),
                citizen.national_id,
                f"{citizen.first_name} {citizen.last_name}",
                self.work_dir,
            )
        citizen.tokens["high"] = await self.agent.login_with_certificate(
            citizen.certificate, email=citizen.email, password=citizen.password
        )

    async def enter_in_registers(self, citizen: Citizen, **details: object) -> None:
        """The citizen's entry in the national register (and, with `licence_points` or
        `tax_credit_used_cents`, in those registers); `details` are PersonEntry's fields."""
        entry = PersonEntry(
            citizen.national_id,
            given_names=citizen.first_name,
            surname=citizen.last_name,
            **details,  # type: ignore[arg-type]
        )
        await self.registers.enter(entry)
        self.in_registers.add(citizen.national_id)

    async def _known(self, citizen: Citizen) -> None:
        if citizen.national_id not in self.in_registers:
            await self.enter_in_registers(citizen)

    async def child_of(
        self, parent: Citizen, *, first_name: str = "Léa", born: date | None = None
    ) -> str:
        """A child of `parent` in the national register, in the parent's household: their
        national id (a minor unless born earlier), for declaring the child."""
        await self._known(parent)
        child_id = (
            make_national_id(born, random.SystemRandom().randint(0, 999)).value
            if born
            else fresh_national_id(adult=False)
        )
        await self.registers.enter(
            PersonEntry(
                child_id,
                given_names=first_name,
                surname=parent.last_name,
                parent_ids=(parent.national_id,),
                household_id=household_of(parent.national_id),
            )
        )
        return child_id

    async def company_run_by(
        self,
        *directors: Citizen,
        number: str | None = None,
        name: str = "Muller SARL",
        vat_balance_cents: int | None = None,
    ) -> str:
        """A company in the trade and companies register whose managers are `directors`: its
        number, for creating its professional space."""
        for director in directors:
            await self._known(director)
        number = number or fresh_company_number()
        await self.registers.enter(
            CompanyEntry(
                number,
                name=name,
                directors=tuple((d.national_id, "manager") for d in directors),
                vat_balance_cents=vat_balance_cents,
            )
        )
        return number

    def cleanup(self) -> None:
        admin = self.admin()
        for citizen in self.created:
            for user in admin.get_users({"email": citizen.email, "exact": True}):
                admin.delete_user(user["id"])
