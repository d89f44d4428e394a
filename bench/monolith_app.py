"""The monolith baseline: one FastAPI process reading PostgreSQL with asyncpg, no services between.

It answers the two routes the benchmarks load with the JSON the gateway gives, doing the reads the
services do (the same tables, rows and columns, the SQL the ORM emits) but nothing else: what the
same API would cost written as a single application. Configured by the environment:
  MONOLITH_ETRACKING_URL  eTracking's database (public lookup)
  MONOLITH_LABELS         {"statuses": {status: label}, "paper_forms": {code: {...}}} (one language)
  MONOLITH_IDENTITY_URL   identity's database (/api/v1/me)
  MONOLITH_ISSUER, MONOLITH_CA_FILE, MONOLITH_AUDIENCE  whose tokens /api/v1/me accepts
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import jwt
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel

# The columns the ORM loads: a Tracking with its history (selectinload), a Profile, Relations,
# Spaces with their Collaborators.
TRACKING = (
    "SELECT id, number, paper_form_code, administration, status, owner, email, phone, language,"
    " created_at, updated_at FROM trackings WHERE number = $1"
)
HISTORY = (
    "SELECT tracking_id, id, status, changed_by, comment, occurred_at"
    " FROM tracking_status_changes WHERE tracking_id = ANY($1::uuid[]) ORDER BY id"
)
PROFILE = "SELECT * FROM profiles WHERE subject = $1"
RELATIONS = (
    "SELECT * FROM relations WHERE actor_national_id = $1 OR subject_national_id = $1"
    " ORDER BY created_at DESC, id"
)
SPACES = (
    "SELECT spaces.* FROM spaces JOIN collaborators ON collaborators.space_id = spaces.id"
    " WHERE collaborators.national_id = $1 ORDER BY spaces.company_name, spaces.id"
)
COLLABORATORS = "SELECT * FROM collaborators WHERE space_id = ANY($1::uuid[])"
NAMES = "SELECT national_id, first_name, last_name FROM profiles WHERE national_id = ANY($1)"
SEPARATORS = re.compile(r"[\s\-\u2010-\u2015]+")


class PaperFormOut(BaseModel):
    code: str
    administration: str
    title: str


class StatusChangeOut(BaseModel):
    status: str
    status_label: str
    occurred_at: datetime


class TrackingOut(BaseModel):
    number: str
    paper_form: PaperFormOut
    status: str
    status_label: str
    history: list[StatusChangeOut]
    created_at: datetime
    sheet_url: str


class ActingContextOut(BaseModel):
    context: str
    label: str


class MeOut(BaseModel):
    subject: str
    national_id: str
    email: str
    name: str
    acr: str
    acting_context: str
    available_contexts: list[ActingContextOut]


def _pool_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _signing_keys(issuer: str, ca_file: str) -> dict[str, jwt.PyJWK]:
    jwks = httpx.get(f"{issuer}/protocol/openid-connect/certs", verify=ca_file, timeout=10)
    jwks.raise_for_status()
    return {
        entry["kid"]: jwt.PyJWK(entry)
        for entry in jwks.json()["keys"]
        if entry.get("use", "sig") == "sig" and entry.get("alg", "RS256") == "RS256"
    }


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The services' engines: a pool of 5 connections that may grow by 10.
    pools: list[asyncpg.Pool] = []
    for name in ("etracking", "identity"):
        url = os.environ.get(f"MONOLITH_{name.upper()}_URL")
        pool = await asyncpg.create_pool(_pool_url(url), min_size=5, max_size=15) if url else None
        setattr(app.state, name, pool)
        pools += [pool] if pool else []
    app.state.labels = json.loads(os.environ.get("MONOLITH_LABELS", "{}"))
    issuer = os.environ.get("MONOLITH_ISSUER", "")
    app.state.issuer = issuer
    app.state.audience = os.environ.get("MONOLITH_AUDIENCE", "guichet-api")
    app.state.keys = _signing_keys(issuer, os.environ["MONOLITH_CA_FILE"]) if issuer else {}
    yield
    for pool in pools:
        await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/api/v1/etracking/trackings/{number}", response_model=TrackingOut)
async def lookup(number: str, request: Request) -> TrackingOut:
    canonical = SEPARATORS.sub("", number).upper()
    if len(canonical) != 11 or not canonical.startswith("ET"):
        raise HTTPException(400, "not an eTracking number")
    labels: dict[str, Any] = request.app.state.labels
    async with request.app.state.etracking.acquire() as connection:
        tracking = await connection.fetchrow(TRACKING, canonical)
        if tracking is None:
            raise HTTPException(404, "no such eTracking")
        history = await connection.fetch(HISTORY, [tracking["id"]])
    return TrackingOut(
        number=f"{canonical[:2]}-{canonical[2:6]}-{canonical[6:10]}-{canonical[10]}",
        paper_form=PaperFormOut(**labels["paper_forms"][tracking["paper_form_code"]]),
        status=tracking["status"],
        status_label=labels["statuses"][tracking["status"]],
        history=[
            StatusChangeOut(
                status=change["status"],
                status_label=labels["statuses"][change["status"]],
                occurred_at=change["occurred_at"],
            )
            for change in history
        ],
        created_at=tracking["created_at"],
        sheet_url=str(request.url_for("sheet", number=canonical)),
    )


@app.get("/api/v1/etracking/trackings/{number}/sheet")
async def sheet(number: str) -> None:
    raise HTTPException(501, "not part of the baseline")


def _claims(request: Request) -> dict[str, Any]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "a bearer token is required")
    try:
        key = request.app.state.keys[jwt.get_unverified_header(token).get("kid", "")]
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[key.algorithm_name],
            audience=request.app.state.audience,
            issuer=request.app.state.issuer,
            leeway=30,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except (KeyError, jwt.PyJWTError) as error:
        raise HTTPException(401, f"invalid token: {error}") from error
    if not claims.get("national_id") or claims.get("acr") not in {"low", "substantial", "high"}:
        raise HTTPException(401, "invalid token: no national identifier or level")
    return claims


@app.get("/api/v1/me", response_model=MeOut)
async def me(request: Request) -> MeOut:
    claims = _claims(request)
    async with request.app.state.identity.acquire() as connection:
        profile = await connection.fetchrow(PROFILE, claims["sub"])
        if profile is None:
            raise HTTPException(404, "no profile")
        national_id = profile["national_id"]
        relations = await connection.fetch(RELATIONS, national_id)
        spaces = await connection.fetch(SPACES, national_id)
        collaborators = (
            await connection.fetch(COLLABORATORS, [space["id"] for space in spaces])
            if spaces
            else []
        )
        involved = {r["actor_national_id"] for r in relations}
        involved |= {r["subject_national_id"] for r in relations}
        involved |= {c["national_id"] for c in collaborators}
        # The names are part of the services' answers, though /me shows none of them.
        if involved:
            await connection.fetch(NAMES, list(involved))
    name, email = str(claims.get("name", "")), str(claims.get("email", ""))
    contexts = [ActingContextOut(context="private", label=name or email)]
    contexts += [
        ActingContextOut(context=f"company:{space['id']}", label=space["company_name"])
        for space in spaces
    ]
    contexts += [
        ActingContextOut(
            context=f"relation:{relation['id']}",
            label=f"{relation['subject_name'] or relation['subject_national_id']} "
            f"({relation['kind']})",
        )
        for relation in relations
        if relation["actor_national_id"] == national_id and relation["revoked_at"] is None
    ]
    return MeOut(
        subject=str(claims["sub"]),
        national_id=str(claims["national_id"]),
        email=email,
        name=name,
        acr=str(claims["acr"]),
        acting_context="private",
        available_contexts=contexts,
    )
