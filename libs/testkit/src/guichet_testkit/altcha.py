"""Solving the gateway's anti-robot challenges (ALTCHA proof of work) as the widget does, for
tests that register, reset a password or create an eTracking without signing in."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import altcha
import httpx

ALGORITHM = "PBKDF2/SHA-256"


def solve(challenge: dict[str, Any]) -> str:
    """The payload the widget sends for `challenge` (the JSON of `GET /api/v1/challenge`)."""
    parsed = altcha.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(parsed, timeout=60)
    assert solution is not None, "the challenge was not solved in a minute"
    return altcha.Payload(parsed, solution).to_base64()


async def solved_challenge(api: httpx.AsyncClient) -> str:
    """A fresh challenge from the gateway, solved: good for one request."""
    response = await api.get("/api/v1/challenge")
    assert response.status_code == 200, response.text
    return solve(response.json())


def signed_challenge(key: str, expires_at: datetime, cost: int = 10) -> dict[str, Any]:
    """A challenge signed with the gateway's key, expiring when one wants (e.g. in the past)."""
    challenge = altcha.create_challenge(
        ALGORITHM,
        cost,
        counter=secrets.randbelow(cost),
        expires_at=expires_at,
        hmac_secret=key,
    )
    return challenge.to_dict()
