"""Token verification: claims, signature, and the JWKS cache with key rotation.

The signing keys are served by a small local HTTP server standing in for the issuer's JWKS
endpoint; the journeys in tests/e2e verify real Keycloak tokens.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from guichet_kit.auth import (
    ActingContext,
    InvalidToken,
    IssuerUnavailable,
    LevelOfAssurance,
    RevokedSubjects,
    RevokedToken,
    TokenVerifier,
)
from guichet_testkit.processes import free_port


class Issuer:
    """Signs tokens and serves its public keys; `rotate()` switches to a new key."""

    def __init__(self) -> None:
        self.fetches = 0
        self._keys: list[tuple[str, Any]] = []
        self.rotate()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                body = json.dumps({"keys": issuer.jwks()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/realms/guichet"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def rotate(self) -> None:
        kid = f"key-{len(self._keys) + 1}"
        self._keys = [(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))]

    def jwks(self) -> list[dict[str, Any]]:
        keys = []
        for kid, key in self._keys:
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return keys

    def token(self, **overrides: Any) -> str:
        kid, key = self._keys[-1]
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": ["guichet-api", "account"],
            "sub": "7b0f0c8e-0000-4000-8000-000000000001",
            "iat": now,
            "exp": now + 300,
            "acr": "substantial",
            "national_id": "1985061200139",
            "email": "anne@example.lu",
            "name": "Anne Muller",
            **overrides,
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def close(self) -> None:
        self._server.shutdown()


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    running = Issuer()
    yield running
    running.close()


def verifier_for(issuer: Issuer, refetch_interval: float = 30.0) -> TokenVerifier:
    return TokenVerifier(issuer.url, "guichet-api", refetch_interval=refetch_interval)


async def test_a_valid_token_gives_the_caller_and_level(issuer: Issuer) -> None:
    principal = await verifier_for(issuer).verify(issuer.token())
    assert principal.subject == "7b0f0c8e-0000-4000-8000-000000000001"
    assert principal.level is LevelOfAssurance.SUBSTANTIAL
    assert principal.national_id == "1985061200139"
    assert principal.person == "person:1985061200139"


async def test_keys_are_fetched_once_for_many_verifications(issuer: Issuer) -> None:
    verifier = verifier_for(issuer)
    for _ in range(50):
        await verifier.verify(issuer.token())
    assert issuer.fetches == 1


async def test_a_rotated_key_is_fetched_once_when_its_kid_appears(issuer: Issuer) -> None:
    verifier = verifier_for(issuer, refetch_interval=0.0)
    await verifier.verify(issuer.token())
    issuer.rotate()
    await verifier.verify(issuer.token())
    await verifier.verify(issuer.token())
    assert issuer.fetches == 2


async def test_unknown_kids_cannot_make_the_verifier_hammer_the_issuer(issuer: Issuer) -> None:
    verifier = verifier_for(issuer, refetch_interval=60.0)
    await verifier.verify(issuer.token())
    forged = jwt.encode(
        {"sub": "x"},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "made-up"},
    )
    for _ in range(5):
        with pytest.raises(InvalidToken, match="unknown key"):
            await verifier.verify(forged)
    assert issuer.fetches == 1


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"aud": "someone-else"}, "(?i)audience"),
        ({"iss": "https://evil.example/realms/guichet"}, "issuer"),
        ({"acr": "1"}, "level of assurance"),
        ({"acr": None}, "level of assurance"),
        ({"national_id": ""}, "national identifier"),
    ],
)
async def test_a_token_not_for_this_platform_is_refused(
    issuer: Issuer, claims: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidToken, match=message):
        await verifier_for(issuer).verify(issuer.token(**claims))


async def test_an_unsigned_or_tampered_token_is_refused(issuer: Issuer) -> None:
    verifier = verifier_for(issuer)
    header, _payload, signature = issuer.token().split(".")
    unsigned = jwt.encode({"sub": "x"}, key=None, algorithm="none")
    with pytest.raises(InvalidToken):
        await verifier.verify(unsigned)
    other = issuer.token(sub="someone-else").split(".")[1]
    with pytest.raises(InvalidToken):
        await verifier.verify(f"{header}.{other}.{signature}")
    with pytest.raises(InvalidToken):
        await verifier.verify("not-a-token")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "private"),
        ("", "private"),
        ("private", "private"),
        ("company:6f1c2a", "company:6f1c2a"),
        ("relation:a9e2", "relation:a9e2"),
    ],
)
def test_acting_context_is_read_from_its_header(text: str | None, expected: str) -> None:
    assert str(ActingContext.parse(text)) == expected


@pytest.mark.parametrize("text", ["company", "company:", "admin:1", "relation:" + "x" * 65])
def test_a_malformed_acting_context_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="acting context"):
        ActingContext.parse(text)


async def test_an_unreachable_issuer_is_an_outage_not_a_bad_token(issuer: Issuer) -> None:
    verifier = TokenVerifier(f"http://127.0.0.1:{free_port()}/realms/guichet", "guichet-api")
    with pytest.raises(IssuerUnavailable):
        await verifier.verify(issuer.token())


async def test_a_verified_token_is_served_from_the_cache_until_it_expires(issuer: Issuer) -> None:
    verifier = TokenVerifier(issuer.url, "guichet-api", leeway_seconds=0.0)
    token = issuer.token(exp=int(time.time()) + 2)
    await verifier.verify(token)
    issuer.rotate()  # the issuer no longer knows the key: only the cache can answer now
    assert (await verifier.verify(token)).subject == "7b0f0c8e-0000-4000-8000-000000000001"
    await asyncio.sleep(2.5)
    with pytest.raises(InvalidToken):
        await verifier.verify(token)


async def test_the_cache_is_bounded(issuer: Issuer) -> None:
    verifier = TokenVerifier(issuer.url, "guichet-api", cache_size=3)
    tokens = [issuer.token(sub=f"subject-{n}") for n in range(5)]
    for token in tokens:
        await verifier.verify(token)
    assert len(verifier._verified) == 3


async def test_a_revoked_subject_is_refused_even_from_the_cache(issuer: Issuer) -> None:
    verifier = verifier_for(issuer)
    deleted, other = issuer.token(sub="deleted-subject"), issuer.token(sub="other-subject")
    await verifier.verify(deleted)
    await verifier.verify(other)

    verifier.revoked.revoke("deleted-subject")

    with pytest.raises(RevokedToken):
        await verifier.verify(deleted)
    assert (await verifier.verify(other)).subject == "other-subject"
    assert all(e.principal.subject != "deleted-subject" for e in verifier._verified.values())


def test_a_revocation_is_forgotten_after_its_window() -> None:
    revoked = RevokedSubjects(keep_seconds=0.2)
    revoked.revoke("someone")
    assert "someone" in revoked
    time.sleep(0.3)
    assert "someone" not in revoked
