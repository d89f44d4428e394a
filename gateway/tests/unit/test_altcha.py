"""The anti-robot challenges' checks that need no database: a solved challenge of this gateway
passes; one missing, unreadable, forged, unsolved, expired or of another key does not."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from guichet_gateway.altcha import LIFETIME, PAYLOAD_MAX_LENGTH, Challenges, Refusal, Solved
from guichet_testkit.altcha import signed_challenge, solve

KEY = "a key for tests only"
COST = 10


@pytest.fixture
def challenges() -> Challenges:
    return Challenges(KEY, COST)


def _decoded(payload: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(base64.b64decode(payload))
    return document


def _encoded(document: object) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def test_a_solved_challenge_passes_and_is_known_by_its_signature(challenges: Challenges) -> None:
    challenge = challenges.issue()
    checked = challenges.check(solve(challenge))
    assert isinstance(checked, Solved)
    assert checked.signature == challenge["signature"]
    expected = datetime.now(UTC) + LIFETIME
    assert abs((checked.expires_at - expected).total_seconds()) < 5


def test_the_challenge_is_what_the_widget_reads(challenges: Challenges) -> None:
    challenge = challenges.issue()
    parameters = challenge["parameters"]
    assert parameters["algorithm"] == "PBKDF2/SHA-256"
    assert parameters["cost"] == COST
    assert {"nonce", "salt", "keyPrefix", "keySignature", "expiresAt"} <= set(parameters)
    assert len(challenge["signature"]) == 64
    assert challenges.issue()["signature"] != challenge["signature"], "each one is new"


@pytest.mark.parametrize("payload", [None, ""])
def test_no_payload_is_missing(challenges: Challenges, payload: str | None) -> None:
    assert challenges.check(payload) is Refusal.MISSING


@pytest.mark.parametrize(
    "payload",
    [
        "not base64 at all!",
        base64.b64encode(b"not json").decode(),
        _encoded([1, 2]),
        _encoded({"challenge": None, "solution": None, "test": True}),  # the widget's test mode
        _encoded({"challenge": {"parameters": {}}, "solution": {}}),
        "A" * (PAYLOAD_MAX_LENGTH + 1),
    ],
)
def test_an_unreadable_payload_is_invalid(challenges: Challenges, payload: str) -> None:
    assert challenges.check(payload) is Refusal.INVALID


def test_a_challenge_of_another_key_is_invalid(challenges: Challenges) -> None:
    other = Challenges("another key", COST)
    assert challenges.check(solve(other.issue())) is Refusal.INVALID


def test_a_changed_parameter_breaks_the_signature(challenges: Challenges) -> None:
    document = _decoded(solve(challenges.issue()))
    document["challenge"]["parameters"]["expiresAt"] += 3600  # a longer life, say
    assert challenges.check(_encoded(document)) is Refusal.INVALID


def test_a_wrong_solution_is_invalid(challenges: Challenges) -> None:
    document = _decoded(solve(challenges.issue()))
    document["solution"]["derivedKey"] = "00" * 32
    document["solution"]["counter"] += 1
    assert challenges.check(_encoded(document)) is Refusal.INVALID


def test_an_unsigned_challenge_is_invalid(challenges: Challenges) -> None:
    document = _decoded(solve(challenges.issue()))
    del document["challenge"]["signature"]
    assert challenges.check(_encoded(document)) is Refusal.INVALID


def test_a_signed_challenge_past_its_expiry_is_expired(challenges: Challenges) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    assert challenges.check(solve(signed_challenge(KEY, past))) is Refusal.EXPIRED


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        Challenges("", COST)
