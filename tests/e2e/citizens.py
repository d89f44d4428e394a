"""Citizens for journeys: registered through the gateway, confirmed by e-mail, signed in."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
from keycloak import KeycloakAdmin

from guichet_kit.national_id import make_national_id
from guichet_testkit.altcha import solved_challenge
from guichet_testkit.login import LoginAgent, Tokens
from guichet_testkit.mail import mail_links, newest_mail
from guichet_testkit.pki import issue_citizen_certificate

PASSWORD = "correct horse battery staple"


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


class Registry:
    """Registers citizens and removes their Keycloak users at the end of the test."""

    def __init__(self, api: httpx.AsyncClient, infra: dict[str, str], work_dir: Path) -> None:
        self.api = api
        self.infra = infra
        self.work_dir = work_dir
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

    def cleanup(self) -> None:
        admin = self.admin()
        for citizen in self.created:
            for user in admin.get_users({"email": citizen.email, "exact": True}):
                admin.delete_user(user["id"])
